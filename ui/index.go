package ui

import (
	"html/template"
	"net/http"

	"github.com/gantry-dev/gantry/api"
	"github.com/gantry-dev/gantry/controller/reconcile"
	"github.com/labstack/echo/v4"
)

var indexTmpl = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gantry</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#111}table{border-collapse:collapse}
th,td{padding:.4rem .8rem;border-bottom:1px solid #ccc;text-align:left}.ok{color:#0a6b2d}.bad{color:#a40000}</style>
</head><body><h1>Gantry services</h1>
<table aria-label="services"><thead><tr><th scope="col">Namespace</th><th scope="col">Name</th><th scope="col">URL</th><th scope="col">Latest</th><th scope="col">Ready</th><th scope="col">Reason</th></tr></thead><tbody>
{{range .}}<tr><td>{{.Namespace}}</td><td>{{.Name}}</td><td><a href="{{.URL}}">{{.URL}}</a></td><td>{{.Latest}}</td>
<td class="{{if eq .Ready "True"}}ok{{else}}bad{{end}}">{{.Ready}}</td><td>{{.Reason}}</td></tr>
{{else}}<tr><td colspan="6">No services yet: <code>gantry apply -f service.yaml</code></td></tr>{{end}}
</tbody></table></body></html>`))

type indexRow struct {
	Namespace, Name, URL, Latest, Ready, Reason string
}

func (s *server) index(c echo.Context) error {
	objs, err := s.o.Store.List(api.KindService, "")
	if err != nil {
		return err
	}
	rows := make([]indexRow, 0, len(objs))
	for _, o := range objs {
		svc := o.(*api.Service)
		r := indexRow{Namespace: svc.Namespace, Name: svc.Name, URL: svc.Status.URL, Latest: svc.Status.LatestReadyRevisionName, Ready: "Unknown"}
		if cond := reconcile.GetCondition(svc.Status.Conditions, api.ConditionReady); cond != nil {
			r.Ready, r.Reason = string(cond.Status), cond.Reason
		}
		rows = append(rows, r)
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return indexTmpl.Execute(c.Response(), rows)
}
