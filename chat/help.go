package chat

import (
	"sort"
	"strings"

	"laird/codec"
)

func handleHelp(o *op, m *codec.Message) {
	c := o.c
	topic := strings.ToUpper(string(m.Param(0)))
	r := c.replies()
	defer o.reply(r)
	if topic == "" || topic == "INDEX" {
		names := make([]string, 0, len(commands))
		for name := range commands {
			names = append(names, name)
		}
		sort.Strings(names)
		r.numeric(codec.RPL_HELPSTART, "index", "laird commands (HELP <command> for details):")
		for i := 0; i < len(names); i += 8 {
			r.numeric(codec.RPL_HELPTXT, "index", strings.Join(names[i:min(i+8, len(names))], " "))
		}
		r.numeric(codec.RPL_ENDOFHELP, "index", "End of /HELP")
		return
	}
	cmd := commands[topic]
	if cmd == nil || cmd.help == "" {
		r.numeric(codec.ERR_HELPNOTFOUND, topic, "No help available on this topic")
		return
	}
	r.numeric(codec.RPL_HELPSTART, topic, topic)
	for _, line := range strings.Split(cmd.help, "\n") {
		r.numeric(codec.RPL_HELPTXT, topic, line)
	}
	if cmd.oper {
		r.numeric(codec.RPL_HELPTXT, topic, "(IRC operators only)")
	}
	r.numeric(codec.RPL_ENDOFHELP, topic, "End of /HELP")
}
