package metrics

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
)

// ruleSources are the rule files and in-memory rule documents in force.
type ruleSources struct {
	files []string
	blobs map[string][]byte
	order []string // names of blobs, in the order first loaded
}

func (s *ruleSources) identifiers() []string {
	return append(slices.Clone(s.files), s.order...)
}

// groupLoader gives the rules manager files from disk and documents loaded
// with LoadRulesBytes, by name.
type groupLoader struct {
	src    *ruleSources
	parser parser.Parser
	log    *slog.Logger
}

func (l *groupLoader) Load(id string, ignoreUnknown bool, scheme model.ValidationScheme) (*rulefmt.RuleGroups, []error) {
	if b, ok := l.src.blobs[id]; ok {
		rgs, errs := rulefmt.Parse(b, ignoreUnknown, scheme, l.parser, l.log)
		for i := range errs {
			errs[i] = fmt.Errorf("%s: %w", id, errs[i])
		}
		return rgs, errs
	}
	return rulefmt.ParseFile(id, ignoreUnknown, scheme, l.parser, l.log)
}

func (l *groupLoader) Parse(query string) (parser.Expr, error) { return l.parser.ParseExpr(query) }

// LoadRules sets the Prometheus rule files evaluated (replacing the files
// of an earlier call; documents from LoadRulesBytes stay). Every group is
// evaluated every Options.EvalInterval unless it sets its own interval. A
// file that does not parse is an error and changes nothing.
func (db *DB) LoadRules(files ...string) error {
	db.ruleMu.Lock()
	defer db.ruleMu.Unlock()
	loader := &groupLoader{src: &ruleSources{}, parser: db.parser, log: db.log}
	var errs []error
	for _, f := range files {
		_, ferrs := loader.Load(f, false, model.UTF8Validation)
		errs = append(errs, ferrs...)
	}
	if len(errs) > 0 {
		return fmt.Errorf("metrics: rules: %w", errors.Join(errs...))
	}
	old := db.ruleSrc.files
	db.ruleSrc.files = slices.Clone(files)
	if err := db.updateRules(); err != nil {
		db.ruleSrc.files = old
		return err
	}
	return nil
}

// LoadRulesBytes sets the rule document called name (a Prometheus rule file's
// content, such as dashboards.WriteRules writes), replacing an earlier one
// of that name; nil content removes it. A document that does not parse is an
// error and changes nothing.
func (db *DB) LoadRulesBytes(name string, content []byte) error {
	db.ruleMu.Lock()
	defer db.ruleMu.Unlock()
	if content != nil {
		if _, errs := rulefmt.Parse(content, false, model.UTF8Validation, db.parser, db.log); len(errs) > 0 {
			return fmt.Errorf("metrics: rules %s: %w", name, errors.Join(errs...))
		}
	}
	oldBlob, had := db.ruleSrc.blobs[name]
	oldOrder := db.ruleSrc.order
	if content == nil {
		delete(db.ruleSrc.blobs, name)
		db.ruleSrc.order = slices.DeleteFunc(slices.Clone(oldOrder), func(n string) bool { return n == name })
	} else {
		if !had {
			db.ruleSrc.order = append(slices.Clone(oldOrder), name)
		}
		db.ruleSrc.blobs[name] = slices.Clone(content)
	}
	if err := db.updateRules(); err != nil {
		if had {
			db.ruleSrc.blobs[name] = oldBlob
		} else {
			delete(db.ruleSrc.blobs, name)
		}
		db.ruleSrc.order = oldOrder
		return err
	}
	return nil
}

func (db *DB) updateRules() error {
	if err := db.ruleMgr.Update(db.opts.EvalInterval, db.ruleSrc.identifiers(), labels.EmptyLabels(), db.opts.ExternalURL, nil); err != nil {
		return fmt.Errorf("metrics: rules: %w", err)
	}
	return nil
}

// Alert is an alert that is pending or firing.
type Alert struct {
	Name        string            `json:"name"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	State       string            `json:"state"` // "pending" or "firing"
	ActiveAt    time.Time         `json:"activeAt"`
	Value       float64           `json:"value"`
	Expr        string            `json:"expr"`
}

// Alerts lists the pending and firing alerts, by name and then labels.
func (db *DB) Alerts() []Alert {
	var out []Alert
	for _, r := range db.ruleMgr.AlertingRules() {
		expr := r.Query().String()
		for _, a := range r.ActiveAlerts() {
			out = append(out, Alert{Name: r.Name(), Labels: labelsToMap(a.Labels), Annotations: labelsToMap(a.Annotations),
				State: a.State.String(), ActiveAt: a.ActiveAt, Value: a.Value, Expr: expr})
		}
	}
	slices.SortFunc(out, func(a, b Alert) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), labels.Compare(labels.FromMap(a.Labels), labels.FromMap(b.Labels)))
	})
	return out
}

// ruleGroups is what /api/v1/rules lists.
func (db *DB) ruleGroups() []*rules.Group { return db.ruleMgr.RuleGroups() }
