package chat

import (
	"slices"
	"strings"

	"laird/codec"
)

// NickServ and ChanServ are built in: PRIVMSG NickServ :<command> (and
// the NS / NICKSERV, CS / CHANSERV shortcuts) run on the sender's loop like
// any command, and are answered with NOTICEs from the service. Their nicks
// are reserved (nick.go), so nobody can impersonate them.

type service struct {
	name     string
	commands map[string]serviceCommand
}

// serviceCommand is one service command; args are the words after it.
type serviceCommand struct {
	handle  func(o *op, args []string)
	minArgs int
	usage   string
	help    string
}

var services map[string]*service // by casefolded service nick

func init() {
	services = map[string]*service{
		"nickserv": {name: "NickServ", commands: nickServCommands()},
		"chanserv": {name: "ChanServ", commands: chanServCommands()},
	}
}

// serviceMessage handles a PRIVMSG or NOTICE addressed to a service as
// part of o; it reports false when target is not one. NOTICEs are dropped
// (never answered automatically). The op is recorded under the service's
// own command (NICKSERV, CHANSERV), so that a slow IDENTIFY does not show
// as a slow PRIVMSG.
func (s *Server) serviceMessage(o *op, command string, target, text []byte) bool {
	if len(target) != len("nickserv") { // both services' names are this long
		return false
	}
	var buf [len("nickserv")]byte
	svc := services[string(s.cm.AppendFold(buf[:0], target))]
	if svc == nil {
		return false
	}
	o.metric = commandIndex(strings.ToUpper(svc.name))
	if command == "PRIVMSG" {
		s.runService(o, svc, string(text))
	}
	return true
}

func handleNickServ(o *op, m *codec.Message) {
	o.s.runService(o, services["nickserv"], joinParams(m))
}

func handleChanServ(o *op, m *codec.Message) {
	o.s.runService(o, services["chanserv"], joinParams(m))
}

func joinParams(m *codec.Message) string {
	parts := make([]string, m.NParams())
	for i := range parts {
		parts[i] = string(m.Param(i))
	}
	return strings.Join(parts, " ")
}

// runService parses "<command> <args...>" and runs it.
func (s *Server) runService(o *op, svc *service, text string) {
	words := strings.Fields(text)
	if len(words) == 0 {
		s.serviceNotice(o, svc.name, "Send HELP for a list of commands")
		return
	}
	name := strings.ToUpper(words[0])
	args := words[1:]
	if name == "HELP" {
		s.serviceHelp(o, svc, args)
		return
	}
	cmd, ok := svc.commands[name]
	if !ok {
		s.serviceNotice(o, svc.name, "Unknown command "+name+"; send HELP for a list of commands")
		return
	}
	if len(args) < cmd.minArgs {
		s.serviceNotice(o, svc.name, "Not enough parameters. Syntax: "+name+" "+cmd.usage)
		return
	}
	if s.store == nil {
		s.serviceNotice(o, svc.name, "Accounts and registrations are not available on this server")
		return
	}
	cmd.handle(o, args)
}

func (s *Server) serviceHelp(o *op, svc *service, args []string) {
	if len(args) > 0 {
		if cmd, ok := svc.commands[strings.ToUpper(args[0])]; ok {
			s.serviceNotice(o, svc.name, "Syntax: "+strings.ToUpper(args[0])+" "+cmd.usage, cmd.help)
			return
		}
	}
	names := make([]string, 0, len(svc.commands))
	for name := range svc.commands {
		names = append(names, name)
	}
	slices.Sort(names)
	lines := []string{svc.name + " commands (HELP <command> for details):"}
	for _, name := range names {
		lines = append(lines, "  "+name+" "+svc.commands[name].usage)
	}
	s.serviceNotice(o, svc.name, lines...)
}

// serviceSource is the prefix of a service's NOTICEs.
func (s *Server) serviceSource(name string) string { return name + "!" + name + "@" + s.name }

// serviceNotice sends lines as NOTICEs from a service to o's client, as
// one reply. Loop only.
func (s *Server) serviceNotice(o *op, svcName string, lines ...string) {
	r := o.replies()
	s.appendServiceNotice(r, o.c, svcName, lines...)
	o.reply(r)
}

// serviceNoticeTo sends lines as NOTICEs from a service to c outside any
// command (nick protection's warning). Loop only.
func (s *Server) serviceNoticeTo(c *Client, svcName string, lines ...string) {
	r := c.replies()
	s.appendServiceNotice(r, c, svcName, lines...)
	c.send(r)
}

func (s *Server) appendServiceNotice(r *replies, c *Client, svcName string, lines ...string) {
	src := s.serviceSource(svcName)
	for _, l := range lines {
		r.cmd(src, "NOTICE", true, c.Nick(), l)
	}
}
