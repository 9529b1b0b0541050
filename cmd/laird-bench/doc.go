// Command laird-bench is laird's benchmark: it runs the load scenarios of package bench
// against laird, against a peer IRC server (InspIRCd, ngircd) or against any server by
// address, writes result files and an HTML report, and detects regressions against a
// committed baseline.
//
//	laird-bench suite     run the suite against bin/laird (or -attach ADDR -pid PID),
//	                      write bench/results/<date>-<commit>.{json,html}, compare with
//	                      bench/baseline.json; exit 1 on a regression
//	laird-bench baseline  the same, then write the result to bench/baseline.json
//	                      (or -from FILE to promote an existing result without running)
//	laird-bench compare   run the same scenarios against laird and InspIRCd (-peers) and
//	                      print the figures side by side with ratios; -peers laird:PATH
//	                      runs another laird build instead (A/B, runs interleaved)
//	laird-bench run       run scenarios against -attach ADDR [-pid PID]; print only
//	laird-bench check     compare -result FILE with the baseline; exit 1 on a regression
//	laird-bench report    rewrite the HTML report of -result FILE
//
// Exit status: 0 when all is well, 1 on a regression or a missed requirement (a
// completeness below 100 %), 2 when the command could not run or a run failed.
package main
