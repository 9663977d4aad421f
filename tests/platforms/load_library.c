/* Loads a DLL the way Godot loads a GDExtension on Windows (LoadLibrary, then the entry symbol
 * by name) and reports what happened. Usage: load_library.exe DLL SYMBOL. Exit 0 only when
 * both were found. Built with mingw and run under Wine by tests/platforms/run.sh. */
#include <stdio.h>
#include <windows.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s DLL SYMBOL\n", argv[0]);
        return 2;
    }
    HMODULE module = LoadLibraryA(argv[1]);
    if (module == NULL) {
        printf("LoadLibrary(%s) failed: error %lu\n", argv[1], GetLastError());
        return 1;
    }
    FARPROC entry = GetProcAddress(module, argv[2]);
    if (entry == NULL) {
        printf("GetProcAddress(%s) failed: error %lu\n", argv[2], GetLastError());
        return 1;
    }
    printf("loaded %s, %s found\n", argv[1], argv[2]);
    return 0;
}
