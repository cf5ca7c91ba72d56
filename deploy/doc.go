// Package deploy is ferry's own Kubernetes deployment: kustomize
// manifests in base/ (two replicas on PostgreSQL) and an example overlay
// in examples/, which deploy_test.go renders, checks and applies to the
// test control plane. It has no Go code; see README.md.
package deploy
