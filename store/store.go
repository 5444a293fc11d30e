// Package store keeps every Gantry object in an embedded bbolt database under
// the state directory. Each write is one bbolt transaction, so a crash leaves
// either the old or the new object, never half of one. Watchers are told of
// every change so the controller can reconcile.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/api"
	bolt "go.etcd.io/bbolt"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ErrNotFound is returned when an object does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict is returned when an update carries a stale resourceVersion.
var ErrConflict = errors.New("conflict: the object was modified; read it again")

var metaBucket = []byte("_meta")

// Event tells a watcher that an object changed (Deleted: it is gone).
type Event struct {
	Ref     api.Ref
	Deleted bool
}

// Store is the embedded object store.
type Store struct {
	db  *bolt.DB
	now func() time.Time

	mu       sync.Mutex
	watchers []chan<- Event
}

// Open opens (creating if needed) the store in dir/gantry.db.
func Open(dir string) (*Store, error) {
	path := filepath.Join(dir, "gantry.db")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("open store %s: locked by another gantry process", path)
		}
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, k := range append([]string{string(metaBucket)}, api.Kinds...) {
			if _, err := tx.CreateBucketIfNotExists([]byte(k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return &Store{db: db, now: time.Now}, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Watch registers ch to receive every change. Sends never block: a full
// channel drops the event, so watchers must also resync periodically.
func (s *Store) Watch(ch chan<- Event) {
	s.mu.Lock()
	s.watchers = append(s.watchers, ch)
	s.mu.Unlock()
}

// Unwatch stops sending to ch (registered with Watch); the caller may then
// drop it.
func (s *Store) Unwatch(ch chan<- Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, w := range s.watchers {
		if w == ch {
			s.watchers = append(s.watchers[:i:i], s.watchers[i+1:]...)
			return
		}
	}
}

func (s *Store) notify(evs []Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range evs {
		for _, w := range s.watchers {
			select {
			case w <- ev:
			default:
			}
		}
	}
}

func key(ns, name string) []byte { return []byte(ns + "/" + name) }

// Get reads the object of kind ns/name into a new object.
func (s *Store) Get(kind, ns, name string) (api.Object, error) {
	var obj api.Object
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(kind))
		if b == nil {
			return fmt.Errorf("unknown kind %q", kind)
		}
		v := b.Get(key(ns, name))
		if v == nil {
			return fmt.Errorf("%s %s/%s: %w", kind, ns, name, ErrNotFound)
		}
		o, err := decode(kind, v)
		obj = o
		return err
	})
	return obj, err
}

// List returns every object of kind in ns ("" for all namespaces), sorted by namespace and name.
func (s *Store) List(kind, ns string) ([]api.Object, error) {
	var out []api.Object
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(kind))
		if b == nil {
			return fmt.Errorf("unknown kind %q", kind)
		}
		c := b.Cursor()
		prefix := []byte(ns + "/")
		var k, v []byte
		if ns == "" {
			k, v = c.First()
		} else {
			k, v = c.Seek(prefix)
		}
		for ; k != nil; k, v = c.Next() {
			if ns != "" && (len(k) < len(prefix) || string(k[:len(prefix)]) != string(prefix)) {
				break
			}
			o, err := decode(kind, v)
			if err != nil {
				return err
			}
			out = append(out, o)
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].GetNamespace() != out[j].GetNamespace() {
			return out[i].GetNamespace() < out[j].GetNamespace()
		}
		return out[i].GetName() < out[j].GetName()
	})
	return out, err
}

func decode(kind string, v []byte) (api.Object, error) {
	o, err := api.New(kind)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(v, o); err != nil {
		return nil, fmt.Errorf("decode stored %s: %w", kind, err)
	}
	return o, nil
}

// Result says what Put did to one object.
type Result string

// Results of Put.
const (
	Created   Result = "created"
	Updated   Result = "configured"
	Unchanged Result = "unchanged"
)

// Put creates or updates objects in one transaction: all of them are written, or
// none. For an existing object the spec (and data, labels, annotations) is
// replaced and its status kept; metadata.generation grows only when the spec
// changes, as in Kubernetes. A non-empty resourceVersion must match.
func (s *Store) Put(objs ...api.Object) ([]Result, error) {
	results := make([]Result, len(objs))
	var evs []Event
	// put writes the stored metadata back onto the callers' objects; a failed
	// batch is rolled back, so their metadata must be too.
	saved := make([]savedMeta, len(objs))
	for i, o := range objs {
		saved[i] = saveMeta(o)
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i, obj := range objs {
			r, err := s.put(tx, obj)
			if err != nil {
				return fmt.Errorf("%s: %w", api.RefOf(obj), err)
			}
			results[i] = r
			if r != Unchanged {
				evs = append(evs, Event{Ref: api.RefOf(obj)})
			}
		}
		return nil
	})
	if err != nil {
		for i, o := range objs {
			saved[i].restore(o)
		}
		return nil, err
	}
	s.notify(evs)
	return results, nil
}

type savedMeta struct {
	rv, uid string
	gen     int64
	created metav1.Time
}

func saveMeta(o api.Object) savedMeta {
	return savedMeta{rv: o.GetResourceVersion(), uid: string(o.GetUID()), gen: o.GetGeneration(), created: o.GetCreationTimestamp()}
}

func (m savedMeta) restore(o api.Object) {
	o.SetResourceVersion(m.rv)
	o.SetUID(types.UID(m.uid))
	o.SetGeneration(m.gen)
	o.SetCreationTimestamp(m.created)
}

func (s *Store) put(tx *bolt.Tx, obj api.Object) (Result, error) {
	kind := api.KindOf(obj)
	b := tx.Bucket([]byte(kind))
	if b == nil {
		return "", fmt.Errorf("unknown kind %q", kind)
	}
	k := key(obj.GetNamespace(), obj.GetName())
	prev := b.Get(k)
	if prev == nil {
		if obj.GetName() == "" {
			return "", errors.New("missing field(s): metadata.name")
		}
		rv, err := nextVersion(tx)
		if err != nil {
			return "", err
		}
		obj.SetResourceVersion(rv)
		obj.SetGeneration(1)
		if ts := obj.GetCreationTimestamp(); ts.IsZero() {
			obj.SetCreationTimestamp(metav1.NewTime(s.now().UTC().Truncate(time.Second)))
		}
		if obj.GetUID() == "" {
			obj.SetUID(types.UID(newUID(rv)))
		}
		return Created, write(b, k, obj)
	}
	old, err := decode(kind, prev)
	if err != nil {
		return "", err
	}
	if rv := obj.GetResourceVersion(); rv != "" && rv != old.GetResourceVersion() {
		return "", ErrConflict
	}
	merged, changed, specChanged := mergeUpdate(old, obj)
	if !changed {
		copyMeta(obj, old)
		return Unchanged, nil
	}
	rv, err := nextVersion(tx)
	if err != nil {
		return "", err
	}
	merged.SetResourceVersion(rv)
	if specChanged {
		merged.SetGeneration(old.GetGeneration() + 1)
	}
	if err := write(b, k, merged); err != nil {
		return "", err
	}
	copyMeta(obj, merged)
	return Updated, nil
}

// UpdateStatus writes obj's status only (spec and metadata as stored are kept).
func (s *Store) UpdateStatus(obj api.Object) error {
	kind := api.KindOf(obj)
	var changed bool
	var newRV string
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(kind))
		k := key(obj.GetNamespace(), obj.GetName())
		prev := b.Get(k)
		if prev == nil {
			return fmt.Errorf("%s: %w", api.RefOf(obj), ErrNotFound)
		}
		old, err := decode(kind, prev)
		if err != nil {
			return err
		}
		merged, ok := withStatus(old, obj)
		if !ok {
			return nil
		}
		changed = true
		rv, err := nextVersion(tx)
		if err != nil {
			return err
		}
		merged.SetResourceVersion(rv)
		newRV = rv
		return write(b, k, merged)
	})
	if err == nil && newRV != "" {
		obj.SetResourceVersion(newRV)
	}
	if err == nil && changed {
		s.notify([]Event{{Ref: api.RefOf(obj)}})
	}
	return err
}

// Delete removes kind ns/name.
func (s *Store) Delete(kind, ns, name string) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(kind))
		if b == nil {
			return fmt.Errorf("unknown kind %q", kind)
		}
		k := key(ns, name)
		if b.Get(k) == nil {
			return fmt.Errorf("%s %s/%s: %w", kind, ns, name, ErrNotFound)
		}
		return b.Delete(k)
	})
	if err == nil {
		s.notify([]Event{{Ref: api.Ref{Kind: kind, Namespace: ns, Name: name}, Deleted: true}})
	}
	return err
}

func write(b *bolt.Bucket, k []byte, obj api.Object) error {
	v, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("encode: %w", err)
	}
	return b.Put(k, v)
}

func nextVersion(tx *bolt.Tx) (string, error) {
	n, err := tx.Bucket(metaBucket).NextSequence()
	if err != nil {
		return "", err
	}
	return strconv.FormatUint(n, 10), nil
}

func newUID(rv string) string {
	return fmt.Sprintf("%x-%s", time.Now().UnixNano(), rv)
}

func copyMeta(dst, src api.Object) {
	dst.SetResourceVersion(src.GetResourceVersion())
	dst.SetGeneration(src.GetGeneration())
	dst.SetCreationTimestamp(src.GetCreationTimestamp())
	dst.SetUID(src.GetUID())
}

// mergeUpdate returns old with the user-owned parts of obj (spec, data, labels,
// annotations, owner references) and whether anything, and the spec, changed.
func mergeUpdate(old, obj api.Object) (merged api.Object, changed, specChanged bool) {
	metaChanged := !equality.Semantic.DeepEqual(old.GetLabels(), obj.GetLabels()) ||
		!equality.Semantic.DeepEqual(old.GetAnnotations(), obj.GetAnnotations()) ||
		!equality.Semantic.DeepEqual(old.GetOwnerReferences(), obj.GetOwnerReferences())
	// What a user writes: the spec, or a ConfigMap's and a Secret's contents.
	for _, f := range []string{"Spec", "Data", "StringData", "Type"} {
		if swapField(old, obj, f) {
			specChanged = true
		}
	}
	old.SetLabels(obj.GetLabels())
	old.SetAnnotations(obj.GetAnnotations())
	old.SetOwnerReferences(obj.GetOwnerReferences())
	return old, specChanged || metaChanged, specChanged
}

// swapField copies the named field (when the type has it) from obj into old
// and reports whether it differed. Every kind stores the same way, so one
// reflective copy replaces a case per kind.
func swapField(old, obj api.Object, name string) bool {
	ov := reflect.ValueOf(old).Elem().FieldByName(name)
	if !ov.IsValid() {
		return false
	}
	nv := reflect.ValueOf(obj).Elem().FieldByName(name)
	changed := !equality.Semantic.DeepEqual(ov.Interface(), nv.Interface())
	ov.Set(nv)
	return changed
}

// withStatus returns old with obj's status, and whether the status differs.
func withStatus(old, obj api.Object) (api.Object, bool) {
	if !reflect.ValueOf(old).Elem().FieldByName("Status").IsValid() {
		return old, false
	}
	changed := swapField(old, obj, "Status")
	if r, ok := old.(*api.Revision); ok {
		// Routing-state labels live in metadata but are written by the controller.
		n := obj.(*api.Revision)
		if !equality.Semantic.DeepEqual(r.Labels, n.Labels) || !equality.Semantic.DeepEqual(r.Annotations, n.Annotations) {
			changed = true
			r.Labels, r.Annotations = n.Labels, n.Annotations
		}
	}
	return old, changed
}
