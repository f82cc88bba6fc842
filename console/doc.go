// Package console is the agents' web console: sign-in, the queues, the
// agent's conversations with everything the bot saw, replies, transfers,
// back-to-bot and close, live updates, and the supervisors' view. It is one
// http.Handler serving an embedded page (static/, no CDN) and a JSON API
// under Config.Path (default "/console").
//
// It owns sessions, the sign-in limit, CSRF protection, the record of which
// claims each agent got, and the page. It does not own the queue (package
// handoff: every claim, lease, epoch and event stream is the queue's), the
// conversations and transcripts (package bot, read through Conversations),
// the channels (Deps.Deliver sends to the customer), or the archive
// (Deps.Archive: the console decides who reads what of it). It runs no goroutine
// of its own: the page heartbeats its claims; the queue's Reaper (run by the
// caller) takes back what a vanished agent held.
//
// # Security
//
// Agents come from Config.Agents with bcrypt password hashes. A session is a
// random 256-bit id in an HttpOnly, SameSite=Strict cookie scoped to the
// path; Redis keeps its SHA-256 with the agent and a CSRF token, expiring
// after Config.SessionTTL of inactivity. Failed sign-ins (only failures) count
// per client address and per (agent id, address) pair, in Redis; over a limit
// the address or the pair is locked with a doubling back-off, and a locked
// attempt gets 429 with Retry-After, even with the right password, before
// the password is checked. The address is Deps.ClientIP's, which reads
// X-Forwarded-For only from trusted proxies. Every state-changing call must come from the console's own
// origin (Origin / Sec-Fetch-Site, net/http CrossOriginProtection) and carry
// the session's token in the X-CSRF-Token header. Writes use the claim the
// queue gave the agent (recorded server-side), never an epoch sent by the
// page, so the queue itself refuses a stale one. The page puts all text on
// the page as text (textContent), never as HTML, under a strict
// Content-Security-Policy.
//
// # JSON API
//
// Paths are relative to Config.Path. Bodies are JSON. Errors are
// {"error": {"code": "...", "message": "..."}} with these codes:
//
//	401 unauthenticated   no session (signed out, expired)
//	401 bad_credentials   wrong agent id or password
//	429 rate_limited      too many failed sign-ins from this address, or for
//	                      this agent from this address (Retry-After: seconds)
//	403 csrf              X-CSRF-Token missing or wrong
//	403 origin            cross-origin state-changing call
//	403 forbidden         supervisors only
//	403 not_holder        the agent does not hold that conversation
//	403 skill             not in the conversation's group
//	409 lease_lost        the claim went stale (lease expired and reaped,
//	                      transferred or reassigned away): writes refused
//	409 taken             the named conversation is no longer waiting
//	409 capacity          the agent holds their maximum of chats
//	409 offline           the agent (or a transfer's target) is offline: POST online
//	409 unknown_agent     the transfer's target agent never signed in
//	409 same_agent        transfer to oneself
//	409 not_open          the conversation is neither waiting nor held
//	404 empty             nothing waiting to claim
//	404 not_found         no such conversation (supervisors)
//	400 bad_request, unknown_group
//	500 internal          (logged; no detail given)
//
// Sign-in and session:
//
//	POST signin {"id","password"} -> me (sets the cookie; puts the agent online)
//	POST signout -> {"ok","requeued":[conv]}  (offline: held conversations go back in line)
//	GET  me -> {"agent":{"id","name","role","groups","max_chats"},"csrf",
//	            "groups":[visible queues],"all_groups":[transfer targets],"heartbeat_ms","lease_ms",
//	            "names":{"groups","reasons","channels"},"enter_sends"}
//	POST online -> {"ok","status"}   (page open, or after an "offline" answer; busy and away are kept)
//	POST status {"status":"online|busy|away"} -> {"ok","status"}   (busy: keeps its conversations, no new ones)
//	POST heartbeat -> {"lost":[conv],"held":n}   (every heartbeat_ms: keeps
//	            presence and extends the leases; lost lists the claims gone)
//
// Queue and conversations:
//
//	GET  queue -> {"groups":[{"group","total","waiting":[{"conv","group","rank","channel","user",
//	            "reason","category","urgent","priority","priority_words","due","since","waited_ms",
//	            "offered_to","preview","last_at","customer_name"?,"customer_id"?}]}]}
//	            (waiting: the head of each queue, queue_view long, in deadline order; total: its
//	            length; priority: low|normal|high|urgent; priority_words: the customer's words
//	            that raised it; due: the first-response deadline)
//	POST claim {"conv"?} -> {"conv","group","epoch"}   (no conv: the earliest deadline first)
//	POST convs/{id}/priority {"priority"} -> {"conv","priority","from","changed"}   (the holder,
//	            an agent of the group it waits in, or a supervisor; moves it to its new deadline)
//	GET  convs -> {"convs":[{"conv","group","epoch","channel","user","reason","urgent","priority",
//	            "priority_words","due",
//	            "claimed","lease_until","lost","customer_name"?,"customer_id"?}]}   (held, and lost until dismissed)
//	GET  convs/{id}[?after=entry] -> {"conv":{"id","channel","user","mode","reason","urgent","priority",
//	            "priority_words","due",
//	            "group","agent","last_intent","lang","entities":[{"type","value"}],
//	            "guesses":[{"intent","score","question"}],"created","updated"},"mine",
//	            "transcript":[{"id","dir":"in|out|note","kind","agent","intent","text",
//	            "choice","choices","at"}],"reach":""|"offline"|"window_closed","customer"?,
//	            "assignment"?:{"reason":"returning_customer|least_busy|performance|manual|transfer",
//	            "detail"?:{"csat","frt","res","load","since","by"}}}
//	            (holder, or any supervisor; reach: the customer cannot see a reply now;
//	            assignment, to supervisors only: why the holder got it)
//	POST convs/{id}/reply {"text","id"?} -> {"entry","dup","delivered","delivery_error"?}
//	            (id: the page's message id, a retry is written and sent once;
//	            delivered false: in the transcript but the channel refused it,
//	            also sent as a delivery_failed event)
//	POST convs/{id}/note {"text","id"?} -> {"entry","dup"}   (a private note, never sent)
//	POST convs/{id}/transfer {"group"|"agent","note"} -> {"conv","group","agent"}
//	POST convs/{id}/bot -> {"conv"}                   (back to the bot)
//	POST convs/{id}/close {"label","resolved"}? -> {"conv","survey":"sent|failed|none","survey_error"?}
//	            (the wrap-up: label a configured wrap-up label or an intent of
//	            the FAQ, else 400 bad_request; carried on the closed event)
//	GET  wrapup -> {"labels":[{"id","name"}],"intents":[{"id","name"}]}
//	POST convs/{id}/labels {"add":[id],"remove":[id]} -> {"conv","labels":[id],"changed"}
//	            (console.labels only, at most MaxLabels; the holder, an agent of
//	            the group it waits in, a supervisor; a labels_changed event)
//	GET  canned?q=&conv= -> {"items":[{"kind":"canned|faq","title","text","groups"?,"intent"?}]}
//	            (the reply box's / picker: canned replies the agent's groups see
//	            and FAQ answers matching q by Chinese, pinyin or its initials, at
//	            most 8; variables filled for conv, which must be the agent's,
//	            else 403 not_holder; q longer than 64 characters: 400)
//	POST convs/{id}/dismiss -> {"ok"}                 (forget a lost claim)
//
// The archive (Deps.Archive; without one these answer 404 not_found):
//
//	GET  convs/{id}/history[?page=&per_page=&after=] -> {"customer","history":page}
//	            (the customer's conversations of any age, newest first; the
//	            holder, or any supervisor; an agent sees their groups' and
//	            the bot's own)
//	GET  archive/search?q=&entity=&customer=&agent=&channel=&group=&label=&rating_min=&rating_max=
//	            &from=&to=&page=&per_page=&after= -> page     (from/to: RFC 3339, or
//	            YYYY-MM-DD in UTC, to included; agents: their groups' only)
//	GET  archive/convs/{archive id} -> {"conv":result,"transcript":[entry],
//	            "events":[{"type","at","fields"}]}   (read-only; 403 skill for
//	            an agent outside its group, whether it exists or not)
//
// page is {"total","capped","page","per_page","pages","results":[result],
// "next"} (capped: more than total match; the archive stops counting at
// archive.CountCap; next: the cursor of the next page, absent on the last:
// after=next reads it without skipping the pages before, page= then only
// numbers it; without after, page= skips page-1 pages), result
// {"conv","thread","customer","channel","group","started","ended","agent",
// "rating","outcome","snippet"}. GET convs/{id} of a conversation whose Redis
// keys have expired answers from the archive: its newest episode the agent
// may read, with "archived": result and "mine": false.
//
// Editors (role editor: this alone; no queue) and supervisors
// (Deps.Gaps; without it 404 not_found):
//
//	GET  gaps -> {"clusters":[{"id","size","examples","nearest_intent","score",
//	            "suggestion":"paraphrase|new_intent","yaml","reasons":{reason:n},"convs"}]}
//	POST gaps/{id}/dismiss -> {"ok","id"}   (kept dismissed, for everyone)
//
// Supervisors:
//
//	POST convs/{id}/reassign {"group"|"agent","note"} -> {"conv","group","agent"}
//	GET  overview -> {"groups":[{"group","waiting","urgent","oldest_ms","online","slots",
//	            "busy","avg_handle_ms"}],"agents":[{"id","name","status","present",
//	            "groups","max","held","offers","seen","ratings","rating_avg",
//	            "convs":[{"conv","assignment"?}]}]}   (assignment as in convs/{id}: why the agent has it)
//	GET  reports?from=YYYY-MM-DD&to=YYYY-MM-DD&by=day|week|month|hour|channel|group|agent|intent
//	            -> the report, as `kefu report --json` prints it (package report); the page
//	            is GET /console/reports
//
// Live events (Server-Sent Events):
//
//	GET events   (Last-Event-ID header or ?after=: resume after that event)
//
// Each message is "id: <cursor>" and "data: {"stream","id","type","conv",
// "group","agent","epoch","at","fields"}". stream is "group" (the visible
// queues: enqueued, claimed, requeued, transferred, released, closed,
// canceled, offered, declined, message while waiting), "agent" (this agent:
// assigned, transferred, lost, message, offer, offer_expired, rated) or
// "console" (delivery_failed: fields conv, entry, what, error). The cursor
// holds the last id of every stream followed, so a reconnect with it misses
// nothing and repeats nothing. The first message is {"type":"ready"} (reload
// the lists); {"type":"signed_out"} ends the stream.
package console
