package queueproxy

import (
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/websocket"
)

// A WebSocket echo through the HTTP port: the upgrade passes, messages flow
// both ways, the connection counts as a request in flight while open, and
// drain waits for it within its grace.
func TestWebSocketEcho(t *testing.T) {
	app := startHandlerApp(t, websocket.Handler(func(c *websocket.Conn) {
		var msg string
		for websocket.Message.Receive(c, &msg) == nil {
			if websocket.Message.Send(c, "echo: "+msg) != nil {
				return
			}
		}
	}))
	q := startQP(t, testEnv(app, "CONTAINER_CONCURRENCY", "2"), "--stats-period=100ms")
	waitReady(t, q)
	ws, err := websocket.Dial("ws://127.0.0.1:"+strconv.Itoa(q.HTTP)+"/ws", "", "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if err := websocket.Message.Send(ws, "hi "+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil || got != "echo: hi "+strconv.Itoa(i) {
			t.Fatalf("got %q %v", got, err)
		}
	}
	// Counted while open: the breaker holds it and the queue depth shows it.
	mfs := scrape(t, q.url(q.Metrics, "/metrics"))
	if v := mfs["revision_queue_depth"].GetMetric()[0].GetGauge().GetValue(); v != 1 {
		t.Errorf("queue depth with one open websocket = %v", v)
	}
	ws.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mfs = scrape(t, q.url(q.Metrics, "/metrics"))
		c := mfs["revision_request_count"]
		if c != nil && find(t, mfs, "revision_request_count", map[string]string{"response_code": "101"}).GetCounter().GetValue() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("websocket not counted as 101:\n%v", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// On shutdown an open WebSocket gets its own grace, then is closed.
func TestWebSocketDrainGrace(t *testing.T) {
	app := startHandlerApp(t, websocket.Handler(func(c *websocket.Conn) {
		var msg string
		for websocket.Message.Receive(c, &msg) == nil {
			websocket.Message.Send(c, msg)
		}
	}))
	q := startQP(t, testEnv(app), "--websocket-drain-grace=300ms")
	waitReady(t, q)
	ws, err := websocket.Dial("ws://127.0.0.1:"+strconv.Itoa(q.HTTP)+"/", "", "http://localhost/")
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	start := time.Now()
	q.cancel()
	// Still usable during the quiet period and the grace.
	time.Sleep(150 * time.Millisecond)
	if err := websocket.Message.Send(ws, "x"); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := websocket.Message.Receive(ws, &got); err != nil || got != "x" {
		t.Fatalf("during drain: %q %v", got, err)
	}
	<-q.exited
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("Main returned after %v, before the websocket grace", el)
	}
	ws.SetReadDeadline(time.Now().Add(2 * time.Second))
	if err := websocket.Message.Receive(ws, &got); err == nil {
		t.Error("websocket still open after the grace")
	}
}
