package main

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kefu-dev/kefu/faq"
)

// TestEditorLoopThroughGateway is issue 16's "done when": customers and an
// agent go through the running gateway (web chat API, console API with the
// wrap-up), the archiver fills the archive, and `kefu faq gaps` and `kefu
// replay` read it; then the YAML gaps suggests, filled in by an editor,
// makes replay answer what the bot declined.
func TestEditorLoopThroughGateway(t *testing.T) {
	mustRedisEnv(t)
	cfg := agentConfig(t, "")
	data := t.TempDir()
	g := mustServe(t, "--config", cfg, "--data", data)
	alice := mustAgent(t, g, "alice", "alice-pw")

	say := func(c *customer, id, text string) replyJSON {
		t.Helper()
		code, r := c.say(id, map[string]any{"text": text})
		if code != 200 || len(r.Replies) == 0 {
			t.Fatalf("%s: %d %+v", text, code, r)
		}
		return r
	}
	// Two customers ask what the FAQ does not cover: declined.
	for i, text := range []string{"你们卖不卖猫粮", "有没有猫粮卖"} {
		if r := say(mustCustomer(t, g), "m1", text); r.Replies[0].Kind != "fallback" {
			t.Fatalf("customer %d: %+v, want fallback", i, r)
		}
	}
	// Two are answered, ask for a person, and an agent closes each with a
	// wrap-up: one about something else than the answer, one agreeing.
	closeWith := func(text, intent, label string, resolved bool) {
		t.Helper()
		c := mustCustomer(t, g)
		if r := say(c, "m1", text); r.Replies[0].Kind != "answer" || r.Replies[0].Intent != intent {
			t.Fatalf("%s: %+v, want answer %s", text, r, intent)
		}
		say(c, "m2", "转人工")
		var claim struct{ Conv string }
		if code := alice.call("POST", "claim", map[string]string{}, &claim); code != 200 {
			t.Fatalf("claim: %d", code)
		}
		if code := alice.call("POST", "convs/"+claim.Conv+"/reply", map[string]string{"text": "您好，我来处理"}, nil); code != 200 {
			t.Fatalf("reply: %d", code)
		}
		var bad struct{ Error struct{ Code string } }
		if code := alice.call("POST", "convs/"+claim.Conv+"/close", map[string]any{"label": "no_such_label", "resolved": true}, &bad); code != 400 {
			t.Fatalf("close with an unknown label: %d %+v, want 400", code, bad)
		}
		if code := alice.call("POST", "convs/"+claim.Conv+"/close", map[string]any{"label": label, "resolved": resolved}, nil); code != 200 {
			t.Fatalf("close: %d", code)
		}
	}
	closeWith("我的快递到哪了", "logistics_track", "logistics_dispute", false)
	closeWith("发票怎么开", "invoice_request", "invoice_request", true)

	// The archiver has it all once both wrap-ups are stored.
	waitFor(t, func() bool {
		res := archiveSearch(t, "--data", data)
		ended := 0
		for _, r := range res.Results {
			if r.Ended != nil {
				ended++
			}
		}
		return res.Total == 4 && ended == 2
	})

	// kefu report --by label: the wrap-ups counted, the rest under "".
	code, out := runKefu(t, "report", "--config", cfg, "--data", data, "--by", "label", "--json")
	if code != 0 {
		t.Fatalf("report --by label: exit %d\n%s", code, out)
	}
	var rep struct {
		By   string
		Rows []struct {
			Key           string
			Conversations int
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	byLabel := map[string]int{}
	for _, r := range rep.Rows {
		byLabel[r.Key] = r.Conversations
	}
	if want := map[string]int{"": 2, "logistics_dispute": 1, "invoice_request": 1}; rep.By != "label" || !maps.Equal(byLabel, want) {
		t.Errorf("report by label: %s %v, want %v", rep.By, byLabel, want)
	}

	// kefu faq gaps --json: the shape, exactly.
	code, out = runKefu(t, "faq", "gaps", "--config", cfg, "--data", data, "--json")
	if code != 0 {
		t.Fatalf("faq gaps: exit %d\n%s", code, out)
	}
	var raw struct{ Clusters []map[string]json.RawMessage }
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &top); err != nil || len(top) != 1 {
		t.Fatalf("top level %v: want only clusters", top)
	}
	for _, c := range raw.Clusters {
		var keys []string
		for k := range c {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"examples", "nearest_intent", "score", "size", "suggestion", "yaml"}; !slices.Equal(keys, want) {
			t.Errorf("cluster keys %v, want %v", keys, want)
		}
	}
	var gaps struct {
		Clusters []struct {
			Size          int
			Examples      []string
			NearestIntent string `json:"nearest_intent"`
			Score         float64
			Suggestion    string
			YAML          string
		}
	}
	if err := json.Unmarshal([]byte(out), &gaps); err != nil {
		t.Fatal(err)
	}
	if len(gaps.Clusters) != 2 {
		t.Fatalf("clusters: %+v, want the cat food question and the parcel", gaps.Clusters)
	}
	cat, parcel := gaps.Clusters[0], gaps.Clusters[1]
	slices.Sort(cat.Examples)
	if cat.Size != 2 || !slices.Equal(cat.Examples, []string{"你们卖不卖猫粮", "有没有猫粮卖"}) || cat.Suggestion != "new_intent" ||
		!strings.Contains(cat.YAML, "- 你们卖不卖猫粮") {
		t.Errorf("largest cluster %+v, want the two cat food questions, a new intent", cat)
	}
	if parcel.Size != 1 || parcel.Examples[0] != "我的快递到哪了" || parcel.NearestIntent != "logistics_track" || parcel.Score <= 0 {
		t.Errorf("second cluster %+v, want the parcel question its wrap-up disowned", parcel)
	}

	// kefu replay --json with the FAQ in service: nothing changes; the
	// wrap-ups make one answer right and one wrong.
	type counts struct{ Answer, Clarify, Handoff, None, Labelled, Right, Wrong int }
	type replayJSON struct {
		Messages          int
		Current, Proposed counts
		Changed           []struct{ Text, From, To string }
	}
	replay := func(args ...string) replayJSON {
		t.Helper()
		code, out := runKefu(t, append([]string{"replay", "--config", cfg, "--data", data, "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("replay: exit %d\n%s", code, out)
		}
		var top map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &top); err != nil || len(top) != 4 || top["messages"] == nil || top["current"] == nil ||
			top["proposed"] == nil || top["changed"] == nil {
			t.Fatalf("replay JSON %s: want messages, current, proposed, changed", out)
		}
		var r replayJSON
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	then := counts{Answer: 2, None: 2, Labelled: 2, Right: 1, Wrong: 1}
	r := replay()
	if r.Messages != 4 || r.Current != then || r.Proposed != then || len(r.Changed) != 0 {
		t.Errorf("replay as in service: %+v", r)
	}
	// A threshold nothing reaches: both answers become something else.
	r = replay("--answer-threshold", "0.999", "--clarify-threshold", "0.5")
	if r.Current != then || r.Proposed.Answer != 0 || len(r.Changed) != 2 || r.Changed[0].From != "answer:logistics_track" {
		t.Errorf("replay at 0.999: %+v", r)
	}

	// The editor pastes gaps' YAML into a copy of the FAQ, fills in the id,
	// category and answer, and replays with it: the cat food questions are
	// answered now.
	dir := t.TempDir()
	if err := os.CopyFS(dir, faq.SampleFS()); err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(cat.YAML, "id: new_intent", "id: pet_food", 1)
	y = strings.Replace(y, `category: ""`, "category: product", 1)
	y = strings.Replace(y, `answer: ""`, "answer: 本店暂不销售宠物食品。", 1)
	y = strings.Replace(y, "    answer:", "      - 卖猫粮吗\n    answer:", 1)
	if err := os.WriteFile(filepath.Join(dir, "pets.yaml"), []byte("intents:\n"+y), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runKefu(t, "faq", "lint", dir); code != 0 {
		t.Fatalf("lint of the pasted YAML: exit %d\n%s\n%s", code, out, y)
	}
	r = replay("--faq", dir)
	var to []string
	for _, c := range r.Changed {
		to = append(to, c.Text+" "+c.From+" → "+c.To)
	}
	slices.Sort(to)
	if want := []string{"你们卖不卖猫粮 none → answer:pet_food", "有没有猫粮卖 none → answer:pet_food"}; !slices.Equal(to, want) || r.Proposed.Answer != 4 {
		t.Errorf("replay with the new intent: changed %v, proposed %+v; want %v", to, r.Proposed, want)
	}
}
