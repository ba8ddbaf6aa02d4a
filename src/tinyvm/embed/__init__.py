"""The embedding API's parts below `tinyvm.api.VM`: conversions between host
and guest values (convert), host functions (hostfn), handles (handles) and
the shared namespace of a VM (namespace). `from tinyvm import VM` is the
entry point; these modules are its implementation."""
