// Wal2JsonFastScanner: the decoder's fast path. A JSON tokenizer for exactly the subset
// wal2json writes for ordinary rows — no whitespace, no \u escapes in strings, numbers
// without an exponent — that feeds the same Wal2JsonHandler events as RapidJSON's in-situ
// reader (StartObject, Key, String, RawNumber, Bool, Null, ..., EndObject), with strings
// unescaped in place and strings and numbers sliced where they stand in the message.
//
// It only ever answers "decoded" or "not mine": anything outside the subset (a backslash or a
// control character or a \u escape in a string, whitespace, an exponent, an integer part too long
// for RapidJSON, nesting deeper than wal2json's, malformed JSON) and any event the handler refuses
// make it return false, and the decoder then decodes the whole message again with RapidJSON, which
// accepts, rejects and explains exactly as before. So the fast path never decides what is valid: it
// accepts a subset of what RapidJSON accepts, with the same events (checked by
// Wal2JsonFastScannerTest against RapidJSON on real and mutated messages).
//
// Why it exists: RapidJSON's generic reader spends most of the decoder's time per token
// (every column is three keys and three values), which kept decode + transform under its
// goal of 1,000,000 changes/s on one core.
#pragma once

#include <cstddef>

namespace pgmorph {

class Wal2JsonHandler;

// Feeds `handler` the events of the JSON text [text, text + size), unescaping strings in
// place. True when the whole text was one value of the subset and the handler accepted every
// event; false otherwise: the handler's state and the text are then undefined (copy the
// message and reset the handler before decoding it again).
bool scanWal2JsonFast(char* text, std::size_t size, Wal2JsonHandler& handler);

}  // namespace pgmorph
