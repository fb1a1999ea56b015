// Package engine is the seam between the API server and a container engine
// (Docker today; containerd later). It holds what the rest of the server may
// ask of an engine, in engine-neutral terms:
//
//   - mirror sources (Source): a checkpoint from the engine's clock, a stream
//     of changes from it, a listing, and the desired object for one key; the
//     reconciler (pkg/mirror) keeps the registry equal to them;
//   - writes: container actions and removal (Containers), image and volume
//     removal (Images, Volumes), the request objects' operations (Requests);
//   - streams: container logs (Logs); places for exec (Exec) and stats
//     (Stats);
//   - error kinds (Error, KindOf): what went wrong, in words an API status can
//     be chosen from. They are mapped to API statuses once, in pkg/registry.
//
// Import rules (test/architecture checks them): this package and its
// subpackages import neither pkg/stream nor k8s.io/apiserver nor the API
// error package; only pkg/engine/docker imports the Docker SDK.
package engine
