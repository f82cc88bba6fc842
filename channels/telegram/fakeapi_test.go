package telegram

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// apiCall is one request the fake Bot API received.
type apiCall struct {
	Method string
	Params map[string]string // form fields (multipart) or JSON fields, JSON-encoded when not strings
	Result int               // message_id returned by sendMessage
}

// fakeAPI is an httptest Bot API: it parses multipart form bodies (the
// library) and JSON bodies (kefu's getUpdates), records every call, serves
// queued updates to getUpdates like Telegram (an offset confirms and drops
// the older ones), and answers with scripted failures when fail says so.
type fakeAPI struct {
	t     testing.TB
	srv   *httptest.Server
	token string
	botID int64

	mu      sync.Mutex
	calls   []apiCall
	updates []json.RawMessage
	arrived chan struct{}
	nextMsg int
	// fail may answer a call instead of the default (status, JSON body).
	fail func(method string, p map[string]string) (int, string, bool)
	// files are what getFile and the file links serve, by file id.
	files map[string][]byte
	// uploads are the files received (sendPhoto's photo), in order.
	uploads [][]byte
}

// addFile makes a file downloadable by its id (getFile, then its link).
func (f *fakeAPI) addFile(id string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.files == nil {
		f.files = map[string][]byte{}
	}
	f.files[id] = data
}

// uploaded returns the files received.
func (f *fakeAPI) uploaded() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]byte(nil), f.uploads...)
}

func newFakeAPI(t testing.TB, token string) *fakeAPI {
	f := &fakeAPI{t: t, token: token, arrived: make(chan struct{}), nextMsg: 1000}
	f.botID, _ = strconv.ParseInt(strings.SplitN(token, ":", 2)[0], 10, 64)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPI) setFail(fn func(method string, p map[string]string) (int, string, bool)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fn
}

// push queues updates for getUpdates.
func (f *fakeAPI) push(updates ...[]byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, u := range updates {
		f.updates = append(f.updates, u)
	}
	close(f.arrived)
	f.arrived = make(chan struct{})
}

// callsOf returns the recorded calls of one method.
func (f *fakeAPI) callsOf(method string) []apiCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []apiCall
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, body)
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	if rest, ok := strings.CutPrefix(r.URL.Path, "/file/bot"+f.token+"/photos/"); ok {
		// A file link: https://api.telegram.org/file/bot<token>/<file_path>.
		f.mu.Lock()
		data, found := f.files[rest]
		f.mu.Unlock()
		if !found || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		w.Write(data)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/bot")
	tok, method, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 || tok != f.token {
		writeJSON(w, 401, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, 405, `{"ok":false,"error_code":405,"description":"POST only in this fake"}`)
		return
	}
	params := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
		// A call without parameters (getMe) has an empty multipart body.
		if err := r.ParseMultipartForm(1 << 20); err != nil && !strings.HasSuffix(err.Error(), "EOF") {
			f.t.Errorf("fake api %s: multipart: %v", method, err)
			writeJSON(w, 400, `{"ok":false,"error_code":400,"description":"Bad Request: bad form"}`)
			return
		}
		if r.MultipartForm != nil {
			for k, v := range r.MultipartForm.Value {
				params[k] = v[0]
			}
			for k, fhs := range r.MultipartForm.File {
				if fh, err := fhs[0].Open(); err == nil {
					b, _ := io.ReadAll(fh)
					fh.Close()
					params[k] = "<file " + fhs[0].Filename + ">"
					f.mu.Lock()
					f.uploads = append(f.uploads, b)
					f.mu.Unlock()
				}
			}
		}
	case "application/json":
		var m map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			f.t.Errorf("fake api %s: json: %v", method, err)
			writeJSON(w, 400, `{"ok":false,"error_code":400,"description":"Bad Request: bad json"}`)
			return
		}
		for k, v := range m {
			var s string
			if json.Unmarshal(v, &s) == nil {
				params[k] = s
			} else {
				params[k] = string(v)
			}
		}
	case "":
	default:
		f.t.Errorf("fake api %s: content type %q", method, ct)
	}
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		if status, body, ok := fail(method, params); ok {
			f.record(apiCall{Method: method, Params: params})
			writeJSON(w, status, body)
			return
		}
	}
	switch method {
	case "getUpdates":
		f.getUpdates(w, r, params)
	case "getMe":
		f.record(apiCall{Method: method, Params: params})
		writeJSON(w, 200, fmt.Sprintf(`{"ok":true,"result":{"id":%d,"is_bot":true,"first_name":"kefu","username":"kefu_test_bot"}}`, f.botID))
	case "sendMessage":
		f.mu.Lock()
		f.nextMsg++
		id := f.nextMsg
		f.calls = append(f.calls, apiCall{Method: method, Params: params, Result: id})
		f.mu.Unlock()
		writeJSON(w, 200, fmt.Sprintf(`{"ok":true,"result":{"message_id":%d,"date":%d,"chat":{"id":%s,"type":"private"},"text":%q}}`,
			id, time.Now().Unix(), params["chat_id"], params["text"]))
	case "getFile":
		f.record(apiCall{Method: method, Params: params})
		f.mu.Lock()
		_, found := f.files[params["file_id"]]
		f.mu.Unlock()
		if !found {
			writeJSON(w, 400, `{"ok":false,"error_code":400,"description":"Bad Request: invalid file_id"}`)
			return
		}
		writeJSON(w, 200, fmt.Sprintf(`{"ok":true,"result":{"file_id":%q,"file_unique_id":"u","file_size":1,"file_path":%q}}`,
			params["file_id"], "photos/"+params["file_id"]))
	case "sendPhoto":
		f.mu.Lock()
		f.nextMsg++
		id := f.nextMsg
		f.calls = append(f.calls, apiCall{Method: method, Params: params, Result: id})
		f.mu.Unlock()
		writeJSON(w, 200, fmt.Sprintf(`{"ok":true,"result":{"message_id":%d,"date":%d,"chat":{"id":%s,"type":"private"}}}`,
			id, time.Now().Unix(), params["chat_id"]))
	case "editMessageReplyMarkup":
		f.record(apiCall{Method: method, Params: params})
		writeJSON(w, 200, fmt.Sprintf(`{"ok":true,"result":{"message_id":%s,"date":1,"chat":{"id":%s,"type":"private"},"text":"…"}}`,
			params["message_id"], params["chat_id"]))
	default:
		f.record(apiCall{Method: method, Params: params})
		writeJSON(w, 200, `{"ok":true,"result":true}`)
	}
}

func (f *fakeAPI) record(c apiCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeAPI) getUpdates(w http.ResponseWriter, r *http.Request, p map[string]string) {
	f.record(apiCall{Method: "getUpdates", Params: p})
	offset, _ := strconv.ParseInt(p["offset"], 10, 64)
	timeout, _ := strconv.Atoi(p["timeout"])
	deadline := time.NewTimer(time.Duration(timeout) * time.Second)
	defer deadline.Stop()
	for {
		f.mu.Lock()
		// Like Telegram: an offset confirms every update before it.
		var keep, out []json.RawMessage
		for _, u := range f.updates {
			var h struct {
				ID int64 `json:"update_id"`
			}
			_ = json.Unmarshal(u, &h)
			if offset > 0 && h.ID < offset {
				continue
			}
			keep = append(keep, u)
		}
		f.updates = keep
		out = append(out, keep...)
		arrived := f.arrived
		f.mu.Unlock()
		if len(out) > 0 {
			b, _ := json.Marshal(out)
			writeJSON(w, 200, `{"ok":true,"result":`+string(b)+`}`)
			return
		}
		select {
		case <-arrived:
		case <-deadline.C:
			writeJSON(w, 200, `{"ok":true,"result":[]}`)
			return
		case <-r.Context().Done():
			return
		}
	}
}
