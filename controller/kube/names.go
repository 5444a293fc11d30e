package kube

// Names of the objects the controller writes for a revision and a route, as
// Knative names them.

// DeploymentName is the Deployment that runs a revision.
func DeploymentName(revision string) string { return revision + "-deployment" }

// RevisionServiceName is the ClusterIP Service in front of a revision's
// queue-proxies (port 80 → 8012); HTTPRoutes send traffic to it.
func RevisionServiceName(revision string) string { return revision }

// PrivateServiceName is the headless Service listing a revision's pods with
// every queue-proxy port (8012, 8013, 8022, 9090, 9091), for the gateway and
// for scraping.
func PrivateServiceName(revision string) string { return revision + "-private" }

// TagHTTPRouteName is the HTTPRoute that serves a route's tag host.
func TagHTTPRouteName(route, tag string) string { return route + "-tag-" + tag }
