package chat

// commandTable lists every command laird understands. Each family's
// handler lives in its own file.
func commandTable() map[string]*command {
	return map[string]*command{
		"CAP":     {handle: handleCap, minParams: 1, preReg: true, help: "CAP LS [302] | LIST | REQ :<caps> | END — negotiate IRCv3 capabilities"},
		"PASS":    {handle: handlePass, minParams: 1, preReg: true, help: "PASS <password> — the server password, before NICK/USER"},
		"NICK":    {handle: handleNick, minParams: 0, preReg: true, help: "NICK <nickname> — set or change your nickname"},
		"USER":    {handle: handleUser, minParams: 4, preReg: true, help: "USER <username> 0 * :<realname> — complete registration"},
		"PING":    {handle: handlePing, minParams: 1, preReg: true, idle: true, help: "PING <token> — the server answers PONG <token>"},
		"PONG":    {handle: handlePong, minParams: 0, preReg: true, idle: true, help: "PONG <token> — answer to a server PING"},
		"QUIT":    {handle: handleQuit, minParams: 0, preReg: true, help: "QUIT [:<reason>] — disconnect"},
		"MOTD":    {handle: handleMOTD, help: "MOTD — show the message of the day"},
		"LUSERS":  {handle: handleLUSERS, help: "LUSERS — user and channel counts"},
		"VERSION": {handle: handleVersion, help: "VERSION — server version and ISUPPORT"},
		"TIME":    {handle: handleTime, help: "TIME — the server's local time"},
		"ADMIN":   {handle: handleAdmin, help: "ADMIN — administrative contact"},
		"INFO":    {handle: handleInfo, help: "INFO — about this server"},
	}
}
