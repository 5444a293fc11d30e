package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gantry-dev/gantry/controller"
	"github.com/gantry-dev/gantry/store"
	"github.com/labstack/echo/v4"
)

// Error is the one JSON shape of every error the API and the UI's JSON answer.
type Error struct {
	Error string `json:"error"`
}

// StatusOf maps an error to its HTTP status and message in one place:
// invalid input 400, missing 404, stale or owned 409, anything else 500.
func StatusOf(err error) (int, string) {
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		return he.Code, fmt.Sprint(he.Message)
	case errors.Is(err, controller.ErrInvalid):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, err.Error()
	}
	return http.StatusInternalServerError, err.Error()
}

// WriteError answers code with {"error": msg}.
func WriteError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(Error{Error: msg})
}

// ErrorHandler is the Echo error handler of the API and the UI. page, when
// set, renders the error for a browser asking for a page (see WantsHTML).
func ErrorHandler(log *slog.Logger, page func(c echo.Context, code int, msg string) error) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		code, msg := StatusOf(err)
		if code >= 500 {
			log.Error("request failed", "path", c.Path(), "err", err)
		}
		if c.Response().Committed {
			return
		}
		if page != nil && WantsHTML(c.Request()) {
			if perr := page(c, code, msg); perr == nil {
				return
			}
		}
		_ = c.JSON(code, Error{Error: msg})
	}
}
