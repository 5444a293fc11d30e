package e2e

import (
	"net"

	"golang.org/x/net/websocket"
)

// dialWS opens a WebSocket to the gateway at addr with cfg's Host.
func dialWS(addr string, cfg *websocket.Config) (*websocket.Conn, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	ws, err := websocket.NewClient(cfg, c)
	if err != nil {
		c.Close()
		return nil, err
	}
	return ws, nil
}
