#!/bin/sh
# The linker cargo runs for Windows and macOS targets inside the sid root (tools/cross-build.sh):
# clang driving LLVM's lld for the target in $LLD_TARGET (and against the SDK in $SDKROOT for
# macOS, tools/macos-sdk.py).
# - Windows: lld instead of mingw's GNU ld, which keeps every function an object file holds
#   once one is used: the DLL came out twice the size. lld's MinGW mode has no -soname (GNU ld
#   ignores it for DLLs anyway), so rustc's is left out.
# - macOS: clang accepts rustc's -arch only once it knows the target is an Apple one.
for arg; do
    shift
    case $arg in
    -Wl,-soname=*) ;;
    *) set -- "$@" "$arg" ;;
    esac
done
exec clang -fuse-ld=lld --target="$LLD_TARGET" ${SDKROOT:+-isysroot "$SDKROOT"} "$@"
