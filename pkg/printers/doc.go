// Package printers words containers and their stats the way the docker CLI
// does: `docker ps`'s status, ports and command, and `docker stats`'s
// columns. The server's tables (kubectl get) and the kubectl plugin print
// with it, so both read alike. It depends on the internal API types only.
package printers
