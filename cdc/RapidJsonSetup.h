// Includes RapidJSON's SAX reader with its SIMD string scanning turned on. Include this
// instead of <rapidjson/reader.h> in cdc. Scanning strings 16 bytes at a time (looking
// for the closing quote, a backslash or a control character) is most of the decoder's
// speed: without it, string parsing is well over half of the time per message.
// RapidJSON only enables it when told which instruction set it may use; SSE2 is part of
// every x86-64 CPU, SSE4.2 is used when the build targets it.
#pragma once

#if defined(__SSE4_2__) && !defined(RAPIDJSON_SSE42)
#define RAPIDJSON_SSE42
#elif defined(__SSE2__) && !defined(RAPIDJSON_SSE2) && !defined(RAPIDJSON_SSE42)
#define RAPIDJSON_SSE2
#endif

#include <rapidjson/reader.h>
