// Package kubecluster's tests run Gantry on a real single-node Kubernetes
// cluster (kubelet, containerd, kube-proxy) that hack/kube-cluster.sh
// started: GANTRY_KUBE_CLUSTER names its folder. test.sh starts one.
package kubecluster
