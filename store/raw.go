package store

import (
	"errors"
	"fmt"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// Codecs of raw.data (the column raw.codec, migration 0004). Rows written
// before 0004 are plain.
const (
	codecPlain = 0 // raw.data is the message as received
	codecZstd  = 1 // raw.data is one zstd frame of it; messages.size is its length
)

// The codec rule of compressRaw: a message is stored compressed when it is
// at least compressMin bytes, at most compressMax, and zstd makes it at most
// compressKeep/10 of its size. Small messages gain too little: a 2 KB one
// shrank by 650 bytes for 8 % of the CPU it cost to store under load; already-compressed content (zip, JPEG, PDF streams) gains
// less than compressKeep asks and stays plain, so reading it costs nothing.
// compressMax bounds what a decode may allocate (see decompressRaw): larger
// messages (beyond the default SMTP limit of 25 MiB) stay plain.
const (
	compressMin = 4 << 10
	// compressedMinEver is the smallest message an older build compressed
	// (its compressMin): such rows stay readable.
	compressedMinEver = 1 << 10
	compressMax       = 64 << 20
	compressKeep      = 9 // tenths
)

// rawWindow is the zstd window: matches reach back at most this far. Mail
// repeats itself at short range (text and HTML versions of one body,
// headers), and each encoder's history buffer is about this big, so 1 MiB
// keeps memory flat while losing next to nothing.
const rawWindow = 1 << 20

// rawZstd returns the encoder and decoder every DB shares. They are built on
// first use, never reconfigured, and EncodeAll/DecodeAll are safe for
// concurrent use (each call borrows one of GOMAXPROCS internal coders), so
// this is an immutable value like a compiled regexp, not mutable state.
var rawZstd = sync.OnceValues(func() (*zstd.Encoder, *zstd.Decoder) {
	enc, err := zstd.NewWriter(nil,
		// Measured (BenchmarkCompressRaw, 2 cores): Fastest compresses a
		// 50 KB multipart message in ~0.065 ms of CPU to 0.54 of its
		// size; SpeedDefault takes ~0.09 ms for 0.53, Better ~0.13 ms.
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(rawWindow),
		// Huffman-code literals even in blocks without matches: a 64 KB
		// block of base64 (an attachment) still shrinks to ~3/4. (A 3 MiB
		// message: 0.55 instead of 0.69, for ~25% more CPU.)
		zstd.WithAllLitEntropyCompression(true),
		// Grow history buffers as needed instead of 1 MiB up front.
		zstd.WithLowerEncoderMem(true),
	)
	if err != nil {
		panic("store: zstd encoder options: " + err.Error()) // constant options: a programming error
	}
	dec, err := zstd.NewReader(nil,
		// Never decode more than any row may hold (see decompressRaw for
		// the per-row bound).
		zstd.WithDecoderMaxMemory(compressMax),
		// Decode into the caller's buffer and fail beyond its capacity.
		zstd.WithDecodeAllCapLimit(true),
	)
	if err != nil {
		panic("store: zstd decoder options: " + err.Error()) // likewise
	}
	return enc, dec
})

// compressRaw returns what to store in raw.data for the message raw and
// the codec to store with it: zstd when that pays (see compressMin), else
// raw itself with codecPlain. It is CPU-only and safe for concurrent use:
// it belongs on the caller's goroutine, outside the write transaction.
func compressRaw(raw []byte) (data []byte, codec int) {
	if len(raw) < compressMin || len(raw) > compressMax {
		return raw, codecPlain
	}
	enc, _ := rawZstd()
	limit := len(raw) / 10 * compressKeep
	z := enc.EncodeAll(raw, make([]byte, 0, limit+64)) // usually grows no further
	if len(z) > limit {
		return raw, codecPlain
	}
	return z, codecZstd
}

// errCorruptRaw marks a raw row that cannot be turned back into the message.
var errCorruptRaw = errors.New("corrupt raw row")

// decompressRaw reverses compressRaw: data and codec as stored, size the
// message length from messages.size. A compressed row must be one zstd
// frame that declares exactly size bytes (at most compressMax) and decodes
// to them with a valid checksum, into a buffer allocated once at that size
// and never grown: a corrupt or hostile row costs no more memory than its
// message did and gives an error (errCorruptRaw), never a panic.
func decompressRaw(data []byte, codec int, size int64) ([]byte, error) {
	switch codec {
	case codecPlain:
		if data == nil {
			data = []byte{}
		}
		return data, nil
	case codecZstd:
	default:
		return nil, fmt.Errorf("%w: unknown codec %d", errCorruptRaw, codec)
	}
	if size < compressedMinEver || size > compressMax {
		return nil, fmt.Errorf("%w: compressed, size %d out of range", errCorruptRaw, size)
	}
	// compressRaw writes one frame that declares the message length:
	// check it before allocating for it.
	var h zstd.Header
	if err := h.Decode(data); err != nil {
		return nil, fmt.Errorf("%w: zstd header: %w", errCorruptRaw, err)
	}
	if !h.HasFCS || h.FrameContentSize != uint64(size) {
		return nil, fmt.Errorf("%w: frame declares %d bytes (known: %t), want %d",
			errCorruptRaw, h.FrameContentSize, h.HasFCS, size)
	}
	_, dec := rawZstd()
	raw, err := dec.DecodeAll(data, make([]byte, 0, size))
	if err != nil {
		return nil, fmt.Errorf("%w: zstd: %w", errCorruptRaw, err)
	}
	if int64(len(raw)) != size {
		return nil, fmt.Errorf("%w: decoded %d bytes, want %d", errCorruptRaw, len(raw), size)
	}
	return raw, nil
}
