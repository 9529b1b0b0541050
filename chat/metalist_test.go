package chat

import "testing"

func TestMetaList(t *testing.T) {
	var l metaList
	l = l.with("b", "2").with("a", "1").with("c", "3").with("b", "two")
	if len(l) != 3 || l[0].key != "a" || l[1].value != "two" || l[2].key != "c" {
		t.Fatalf("with: %+v", l)
	}
	before := l
	l2 := l.without("b")
	if len(l2) != 2 || len(before) != 3 || before[1].value != "two" {
		t.Fatalf("without changed the original or failed: %+v %+v", before, l2)
	}
	if v, ok := l2.get("c"); !ok || v != "3" {
		t.Fatal("get")
	}
	if _, ok := l2.get("b"); ok {
		t.Fatal("get of a removed key")
	}
	m := l2.merged(metaList{{"a", "A"}, {"d", "4"}})
	if v, _ := m.get("a"); v != "A" || len(m) != 3 {
		t.Fatalf("merged: %+v", m)
	}
	for key, want := range map[string]bool{"display-name": true, "im.xmpp": true, "a/b_c": true, "": false, "Upper": false, "sp ace": false, "$x": false} {
		if validMetaKey(key) != want {
			t.Errorf("validMetaKey(%q) != %v", key, want)
		}
	}
}
