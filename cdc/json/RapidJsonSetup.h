// Includes RapidJSON's SAX reader, and refuses to compile without pgmorph's RapidJSON
// settings. Those settings are the compile definitions of the pgmorph_rapidjson CMake target
// (cdc/CMakeLists.txt), which every target that includes RapidJSON links: every translation
// unit then sees the same RapidJSON (one definition of its inline functions per program),
// whichever RapidJSON header it includes first.
//
// The setting: SIMD string scanning. Scanning strings 16 bytes at a time (looking for the
// closing quote, a backslash or a control character) is most of the decoder's speed: without
// it, string parsing is well over half of the time per message. RapidJSON only enables it
// when told which instruction set it may use; SSE2 is part of every x86-64 CPU, SSE4.2 is
// used when the build targets it.
#pragma once

#if defined(__SSE2__) && !defined(RAPIDJSON_SSE2) && !defined(RAPIDJSON_SSE42)
#error "RapidJSON's settings are missing: link the pgmorph_rapidjson target (cdc/CMakeLists.txt)"
#endif

#include <rapidjson/reader.h>
