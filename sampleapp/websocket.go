package sampleapp

import (
	"io"

	"golang.org/x/net/websocket"
)

// echoWS echoes every WebSocket message back, for end-to-end upgrade tests.
var echoWS = websocket.Handler(func(c *websocket.Conn) {
	_, _ = io.Copy(c, c)
})
