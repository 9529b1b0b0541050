package chat

// commandTable lists every command laird understands. Each family's
// handler lives in its own file; the generic checks are in Handle.
func commandTable() map[string]*command {
	target := routeFirstTarget
	return map[string]*command{
		// Registration and connection (register.go, cap.go, info.go).
		"CAP":  {handle: handleCap, minParams: 1, preReg: true, help: "CAP LS [302] | LIST | REQ :<caps> | END\nNegotiate IRCv3 capabilities."},
		"PASS": {handle: handlePass, minParams: 1, preReg: true, help: "PASS <password>\nThe server password, sent before NICK and USER."},
		"NICK": {handle: handleNick, preReg: true, help: "NICK <nickname>\nSet or change your nickname."},
		"USER": {handle: handleUser, minParams: 4, preReg: true, help: "USER <username> 0 * :<realname>\nComplete registration."},
		"PING": {handle: handlePing, minParams: 1, preReg: true, idle: true, help: "PING <token>\nThe server answers PONG with the same token."},
		"PONG": {handle: handlePong, preReg: true, idle: true, help: "PONG <token>\nAnswer to a server PING."},
		"QUIT": {handle: handleQuit, preReg: true, help: "QUIT [:<reason>]\nDisconnect, telling your channels why."},

		// Server information (info.go, help.go).
		"MOTD":    {handle: handleMOTD, help: "MOTD\nShow the message of the day."},
		"LUSERS":  {handle: handleLUSERS, help: "LUSERS\nUser, operator and channel counts."},
		"VERSION": {handle: handleVersion, help: "VERSION\nThe server version and its ISUPPORT tokens."},
		"TIME":    {handle: handleTime, help: "TIME\nThe server's local time."},
		"ADMIN":   {handle: handleAdmin, help: "ADMIN\nAdministrative contact."},
		"INFO":    {handle: handleInfo, help: "INFO\nAbout this server."},
		"HELP":    {handle: handleHelp, preReg: true, help: "HELP [<command>]\nList commands, or explain one."},
		"HELPOP":  {handle: handleHelp, preReg: true, help: "HELPOP [<command>]\nThe same as HELP."},
		"LINKS":   {handle: handleLinks, help: "LINKS\nThe servers of this network (just this one)."},
		"STATS":   {handle: handleStats, minParams: 1, help: "STATS <letter>\nL: per-command latency p50/p99/p99.9; k/d: K-lines and D-lines (operators); u: uptime."},

		// Channels (join.go, topic.go, kick.go, invite.go, knock.go, list.go, mode.go).
		"JOIN":   {handle: handleJoin, minParams: 1, route: target, help: "JOIN <#chan>{,<#chan>} [<key>{,<key>}] | JOIN 0\nJoin channels (0 leaves all)."},
		"PART":   {handle: handlePart, minParams: 1, route: target, help: "PART <#chan>{,<#chan>} [:<reason>]\nLeave channels."},
		"TOPIC":  {handle: handleTopic, minParams: 1, route: target, help: "TOPIC <#chan> [:<topic>]\nShow or set a channel's topic."},
		"NAMES":  {handle: handleNames, route: target, help: "NAMES <#chan>{,<#chan>}\nList channels' members."},
		"LIST":   {handle: handleList, help: "LIST [<#chan>{,<#chan>}|<mask>|!<mask>] [>n] [<n] [C<m] [C>m] [T<m] [T>m]\nList channels, filtered by name, mask, member count, age or topic age (minutes)."},
		"KICK":   {handle: handleKick, minParams: 2, route: target, help: "KICK <#chan> <nick>{,<nick>} [:<reason>]\nRemove members (channel operators)."},
		"INVITE": {handle: handleInvite, help: "INVITE <nick> <#chan> | INVITE\nInvite someone (channel operators on +i channels), or list your invitations. An account's invitation lasts until accepted by JOIN, declined, revoked or expired."},
		"KNOCK":  {handle: handleKnock, minParams: 1, route: target, help: "KNOCK <#chan> [:<message>]\nAsk the operators of an invite-only, keyed or full channel to let you in."},
		"RENAME": {handle: handleRename, minParams: 2, help: "RENAME <#chan> <#newname> [:<reason>]\nRename a channel you operate (draft/channel-rename); it keeps everything but its name."},
		"MODE":   {handle: handleMode, minParams: 1, route: target, help: "MODE <#chan> [<modes> [<args>]] | MODE <nick> [<modes>]\nChannel modes: i k l m n s t o v b e I. User modes: i w B (o through OPER)."},

		// Invitations (uninvite.go).
		"UNINVITE": {handle: handleUninvite, minParams: 2, help: "UNINVITE <nick> <#chan>\nDecline your own invitation (your own nick), or revoke one you sent (channel operators: any)."},

		// Messages (privmsg.go, history.go, redact.go).
		"PRIVMSG":     {handle: handlePrivmsg, route: target, help: "PRIVMSG <target>{,<target>} :<text>\nSend a message to channels or nicks (@#chan for ops only)."},
		"NOTICE":      {handle: handleNotice, route: target, help: "NOTICE <target>{,<target>} :<text>\nLike PRIVMSG, but never answered automatically."},
		"CHATHISTORY": {handle: handleChathistory, minParams: 1, help: "CHATHISTORY LATEST|BEFORE|AFTER|AROUND <target> <msgid=..|timestamp=..|*> <limit> | BETWEEN <target> <ref> <ref> <limit> | TARGETS <timestamp=..> <timestamp=..> <limit>\nMessage history of a channel you are in or of a private conversation."},
		"REDACT":      {handle: handleRedact, minParams: 2, help: "REDACT <target> <msgid> [:<reason>]\nDelete a message (draft/message-redaction): your own, or any in a channel you operate."},
		"EDIT":        {handle: handleEdit, minParams: 1, help: "@draft/target-msgid=<msgid>;draft/edit-text=<text> EDIT <target>\nReplace the text of a message you sent (draft/message-edit)."},
		"BATCH":       {handle: handleBatch, minParams: 1, help: "BATCH +<ref> draft/multiline <target> | BATCH -<ref>\nSend one message of several lines (draft/multiline): its PRIVMSG or NOTICE lines carry @batch=<ref>."},
		"TAGMSG":      {handle: handleTagmsg, minParams: 1, route: target, help: "TAGMSG <target>\nSend only client tags (message-tags), e.g. +typing."},
		"MARKREAD":    {handle: handleMarkread, help: "MARKREAD <target> [timestamp=YYYY-MM-DDThh:mm:ss.sssZ]\nGet or move your read marker of a channel or private conversation (draft/read-marker)."},

		// Presence and lookup (who.go, away.go, monitor.go).
		"WHO":         {handle: handleWho, help: "WHO <mask|#chan> [%<fields>[,<token>]]\nList users; WHOX fields: t c u i h s n f d l a o r."},
		"WHOIS":       {handle: handleWhois, minParams: 1, help: "WHOIS <nick>\nInformation about a user."},
		"WHOWAS":      {handle: handleWhowas, minParams: 1, help: "WHOWAS <nick> [<count>]\nInformation about a nick that is gone."},
		"ISON":        {handle: handleIson, minParams: 1, help: "ISON <nick> [<nick>...]\nWhich of these nicks are online."},
		"USERHOST":    {handle: handleUserhost, minParams: 1, help: "USERHOST <nick> [<nick>...]\nuser@host of up to five nicks."},
		"AWAY":        {handle: handleAway, preReg: true, help: "AWAY [:<message>]\nMark yourself away, or back without a message (before registration too, with draft/pre-away)."},
		"PERSISTENCE": {handle: handlePersistence, minParams: 1, help: "PERSISTENCE GET | SET <ON|OFF|DEFAULT>\nWhether you stay in your channels with nothing connected (draft/persistence; the same as NickServ SET ALWAYS-ON)."},
		"SETNAME":     {handle: handleSetname, minParams: 1, help: "SETNAME :<realname>\nChange your realname (setname capability)."},
		"METADATA":    {handle: handleMetadata, minParams: 2, preReg: true, help: "METADATA <target|*> GET <key>... | LIST | SET <key> [:<value>] | CLEAR | SYNC | SUB <key>... | UNSUB <key>... | SUBS\nUser and channel metadata (draft/metadata-2): display-name, avatar, pronouns, homepage..."},
		"MONITOR":     {handle: handleMonitor, minParams: 1, help: "MONITOR + <nick>{,<nick>} | - <nick>{,<nick>} | C | L | S\nBe told when nicks come online or leave."},

		// Accounts and services (account.go, sasl.go, services.go).
		"REGISTER":     {handle: handleRegister, minParams: 3, preReg: true, help: "REGISTER <account|*> <email|*> <password>\nRegister your current nick as an account (draft/account-registration)."},
		"VERIFY":       {handle: handleVerify, minParams: 2, preReg: true, help: "VERIFY <account> <code>\nComplete a registration with the code you were sent."},
		"AUTHENTICATE": {handle: handleAuthenticate, minParams: 1, preReg: true, help: "AUTHENTICATE <mechanism> | <base64 data> | *\nSASL login (PLAIN, SCRAM-SHA-256)."},
		"NICKSERV":     {handle: handleNickServ, minParams: 1, help: "NICKSERV <command> [<args>]\nTalk to NickServ (REGISTER, IDENTIFY, LOGOUT, DROP, INFO, SET PASSWORD, GHOST, HELP)."},
		"NS":           {handle: handleNickServ, minParams: 1, help: "NS <command> [<args>]\nShort for NICKSERV."},
		"CHANSERV":     {handle: handleChanServ, minParams: 1, help: "CHANSERV <command> [<args>]\nTalk to ChanServ (REGISTER, DROP, INFO, ACCESS, HELP)."},
		"CS":           {handle: handleChanServ, minParams: 1, help: "CS <command> [<args>]\nShort for CHANSERV."},

		// Operators (oper.go).
		"OPER":      {handle: handleOper, minParams: 1, help: "OPER <name> [<password>]\nBecome an IRC operator (the password may be left out when the operator block names your client certificate and no password)."},
		"KILL":      {handle: handleKill, minParams: 1, oper: true, help: "KILL <nick> [:<reason>]\nDisconnect a user."},
		"WALLOPS":   {handle: handleWallops, minParams: 1, oper: true, help: "WALLOPS :<text>\nMessage every user with mode +w."},
		"KLINE":     {handle: handleKline, minParams: 1, oper: true, help: "KLINE [<duration>] <user@host> [:<reason>]\nBan a user@host mask (duration like 30m, 2d; none = permanent)."},
		"DLINE":     {handle: handleDline, minParams: 1, oper: true, help: "DLINE [<duration>] <ip|cidr> [:<reason>]\nBan an address or network."},
		"UNKLINE":   {handle: handleUnkline, minParams: 1, oper: true, help: "UNKLINE <user@host>\nRemove a K-line."},
		"UNDLINE":   {handle: handleUndline, minParams: 1, oper: true, help: "UNDLINE <ip|cidr>\nRemove a D-line."},
		"SUSPEND":   {handle: handleSuspend, minParams: 1, oper: true, help: "SUSPEND <account> [:<reason>]\nSuspend an account: it cannot log in and its sessions end."},
		"UNSUSPEND": {handle: handleUnsuspend, minParams: 1, oper: true, help: "UNSUSPEND <account>\nLift a suspension."},
		"AUDIT":     {handle: handleAudit, oper: true, help: "AUDIT [action=<a>] [actor=<nick>] [target=<t>] [since=<duration>] [limit=<n>]\nQuery the audit trail."},
		"CHGHOST":   {handle: handleChghost, minParams: 2, oper: true, help: "CHGHOST <nick> <host>\nChange a user's displayed host (sent to chghost clients)."},
		"REHASH":    {handle: handleRehash, oper: true, help: "REHASH\nReload the configuration file (like SIGHUP): what can change live applies at once; the reply names what needs a restart."},
	}
}
