"""Offline stub of @rules_java for Bazel 4: forwards to the native rules."""
java_import = native.java_import
java_runtime = native.java_runtime
java_toolchain = native.java_toolchain
java_binary = native.java_binary
java_library = native.java_library
