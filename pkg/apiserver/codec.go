package apiserver

import "k8s.io/apimachinery/pkg/runtime"

// runtimeParameterCodec decodes query parameters into this group's option
// types (not only meta/v1's), which subresource options need.
var runtimeParameterCodec = runtime.NewParameterCodec(Scheme)
