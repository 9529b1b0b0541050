package chat

import "strings"

// Cap is an IRCv3 capability laird implements.
type Cap uint8

const (
	CapCapNotify Cap = iota
	CapMessageTags
	CapServerTime
	CapEchoMessage
	CapBatch
	CapLabeledResponse
	CapAccountTag
	CapAccountNotify
	CapAwayNotify
	CapExtendedJoin
	CapMultiPrefix
	CapUserhostInNames
	CapInviteNotify
	CapChghost
	CapSetname
	CapSASL
	CapAccountRegistration // draft/account-registration (accounts.go)
	CapExtendedMonitor
	CapChathistory
	CapStandardReplies      // standard-replies: FAIL/WARN/NOTE are sent anyway; advertised for clients that look
	CapNoImplicitNames      // no-implicit-names: no NAMES burst after JOIN
	CapNoImplicitNamesDraft // draft/no-implicit-names, the same before ratification
	CapPreAway              // draft/pre-away (away.go)
	CapPersistence          // draft/persistence (alwayson.go)
	CapMessageRedaction     // draft/message-redaction: REDACT (redact.go)
	CapMessageEdit          // draft/message-edit: EDIT (redact.go)
	CapMultiline            // draft/multiline (multiline.go)
	CapMetadata             // draft/metadata-2 (metadata.go)
	CapMetadata3            // draft/metadata-3: the same, as irctest and ergo name the revision under review
	CapChannelRename        // draft/channel-rename (rename.go)
	CapEventPlayback        // draft/event-playback (history_events.go)
	CapReadMarker           // draft/read-marker (markread.go)
	capCount
)

var capNames = [capCount]string{
	CapCapNotify:            "cap-notify",
	CapMessageTags:          "message-tags",
	CapServerTime:           "server-time",
	CapEchoMessage:          "echo-message",
	CapBatch:                "batch",
	CapLabeledResponse:      "labeled-response",
	CapAccountTag:           "account-tag",
	CapAccountNotify:        "account-notify",
	CapAwayNotify:           "away-notify",
	CapExtendedJoin:         "extended-join",
	CapMultiPrefix:          "multi-prefix",
	CapUserhostInNames:      "userhost-in-names",
	CapInviteNotify:         "invite-notify",
	CapChghost:              "chghost",
	CapSetname:              "setname",
	CapSASL:                 "sasl",
	CapAccountRegistration:  "draft/account-registration",
	CapExtendedMonitor:      "extended-monitor",
	CapChathistory:          "draft/chathistory",
	CapStandardReplies:      "standard-replies",
	CapNoImplicitNames:      "no-implicit-names",
	CapNoImplicitNamesDraft: "draft/no-implicit-names",
	CapPreAway:              "draft/pre-away",
	CapPersistence:          "draft/persistence",
	CapMessageRedaction:     "draft/message-redaction",
	CapMessageEdit:          "draft/message-edit",
	CapMultiline:            "draft/multiline",
	CapMetadata:             "draft/metadata-2",
	CapMetadata3:            "draft/metadata-3",
	CapChannelRename:        "draft/channel-rename",
	CapEventPlayback:        "draft/event-playback",
	CapReadMarker:           "draft/read-marker",
}

// String returns the capability's name.
func (cp Cap) String() string { return capNames[cp] }

func capByName(name string) (Cap, bool) {
	for i, n := range capNames {
		if n == name {
			return Cap(i), true
		}
	}
	return 0, false
}

// capSet is a set of capabilities as a bit mask.
type capSet uint64

func (s capSet) has(cp Cap) bool { return s&(1<<cp) != 0 }

// offered lists the capabilities the server advertises to c, with values
// for CAP LS 302. sts is not one of s.caps (it cannot be requested): it is
// added here for the clients that get a policy (sts.go).
func (s *Server) offered(c *Client, v302 bool) []string {
	out := make([]string, 0, len(s.caps)+1)
	if v302 {
		if v := s.stsValue(c); v != "" {
			out = append(out, "sts="+v)
		}
	}
	for _, cp := range s.caps {
		name := cp.String()
		if v302 {
			if val := s.capValue(cp); val != "" {
				name += "=" + val
			}
		}
		out = append(out, name)
	}
	return out
}

func (s *Server) capValue(cp Cap) string {
	switch cp {
	case CapSASL:
		return strings.Join(s.saslMechs, ",")
	case CapAccountRegistration:
		return s.registrationCapValue()
	case CapMultiline:
		return s.multilineCapValue()
	case CapMetadata, CapMetadata3:
		return s.metadataCapValue()
	}
	return ""
}

func (s *Server) offers(cp Cap) bool {
	for _, o := range s.caps {
		if o == cp {
			return true
		}
	}
	return false
}
