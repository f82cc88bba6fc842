package intents

// The segmenter's hot call, without gojieba's Go wrapper.
//
// gojieba's (*Jieba).Tokenize copies the text into C memory and grows its
// []Word result from empty, one append at a time: for a message of ten words
// that is a malloc and five Go allocations around the C call, about a tenth
// of Match. tokenize calls the same C function of the same package
// (Tokenize in gojieba's jieba.h, linked from github.com/yanyiwu/gojieba)
// with the text in reused Go memory and appends the words to the caller's
// slice. TestSegmentIsGojiebaCut pins it to gojieba's own Tokenize and Cut, and
// TestJiebaHandleLayout to the handle's place in *gojieba.Jieba.

/*
#include <stdlib.h>
#include <stddef.h>

// As Word and Tokenize in gojieba's jieba.h (TokenizeMode is an enum: an
// int; DefaultMode is 0).
typedef struct {
	size_t offset;
	size_t len;
} kefu_jieba_word;

extern kefu_jieba_word* Tokenize(void* handle, const char* sentence, int mode, int is_hmm_used);
*/
import "C"

import (
	"runtime"
	"unsafe"

	"github.com/yanyiwu/gojieba"
)

// jiebaHandle is the C handle inside a *gojieba.Jieba: its first field
// (gojieba v1.4.6: struct { jieba C.Jieba; freed int32 }, C.Jieba a void*).
func jiebaHandle(j *gojieba.Jieba) unsafe.Pointer {
	return *(*unsafe.Pointer)(unsafe.Pointer(j))
}

// tokenize appends the words of text, as gojieba's
// j.Tokenize(text, gojieba.DefaultMode, true) finds them, to words. cbuf is
// memory for the NUL-terminated copy of text the C side reads; it is
// returned for reuse.
func tokenize(j *gojieba.Jieba, text string, words []string, cbuf []byte) ([]string, []byte) {
	cbuf = append(append(cbuf[:0], text...), 0)
	ws := C.Tokenize(jiebaHandle(j), (*C.char)(unsafe.Pointer(&cbuf[0])), 0, 1)
	runtime.KeepAlive(j) // its finalizer frees the handle
	if ws == nil {
		return words, cbuf
	}
	n := 0
	for p := ws; p.len != 0; n++ {
		p = (*C.kefu_jieba_word)(unsafe.Add(unsafe.Pointer(p), unsafe.Sizeof(*p)))
	}
	for _, w := range unsafe.Slice(ws, n) {
		words = append(words, text[w.offset:w.offset+w.len])
	}
	C.free(unsafe.Pointer(ws))
	return words, cbuf
}
