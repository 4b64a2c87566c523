package segment_test

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"
	"github.com/edgekit/edgekit/segment"
)

// synthSegment builds a 2 s video segment of 1080p-like size: fps samples
// per second, an IDR first sample of idrBytes and P samples sharing the rest
// of bitrate. Payloads are length-prefixed NAL units (IDR type 5, then type
// 1) so the keyframe check walks real structure; the picture data itself is
// filler, which Inspect never decodes.
func synthSegment(b testing.TB, trackID uint32, fps, bitrate, idrBytes int) []byte {
	b.Helper()
	const timescale = 90000
	n := 2 * fps
	total := bitrate / 8 * 2
	pBytes := (total - idrBytes) / (n - 1)
	ss := make([]mp4.FullSample, n)
	for i := range ss {
		size, nalType, flags := pBytes, byte(0x41), mp4.NonSyncSampleFlags
		if i == 0 {
			size, nalType, flags = idrBytes, 0x65, mp4.SyncSampleFlags
		}
		data := make([]byte, size)
		data[0], data[1], data[2], data[3] = byte((size-4)>>24), byte((size-4)>>16), byte((size-4)>>8), byte(size-4)
		data[4] = nalType
		ss[i] = mp4.FullSample{Sample: mp4.Sample{Flags: flags, Dur: timescale / uint32(fps), Size: uint32(size)},
			DecodeTime: uint64(1_800_000_000+i) * timescale / uint64(fps), Data: data}
	}
	return buildSegment(b, trackID, ss)
}

// BenchmarkInspect measures Inspect on 2 s segments of 1080p size (the
// origin inspects every PUT). Reported: segments/s via ns/op, MB/s via
// SetBytes.
func BenchmarkInspect(b *testing.B) {
	in, err := segment.InspectInit(readFile(b, "init-2.mp4"))
	if err != nil {
		b.Fatal(err)
	}
	_, segs := vodRendition(b, "2")
	ain, asegs := vodRendition(b, "3")
	cases := []struct {
		name string
		in   *segment.Init
		seg  []byte
	}{
		{"video=1080p25/bitrate=6M", in, synthSegment(b, in.Tracks[0].ID, 25, 6_000_000, 300_000)},
		{"video=1080p60/bitrate=8M", in, synthSegment(b, in.Tracks[0].ID, 60, 8_000_000, 400_000)},
		{"video=360p25/committed", in, segs[1]},
		{"audio=aac48k/committed", ain, asegs[1]},
	}
	if seg, segIn := ffmpeg1080p(b); seg != nil {
		cases = append(cases, struct {
			name string
			in   *segment.Init
			seg  []byte
		}{"video=1080p25/ffmpeg-x264", segIn, seg})
	}
	for _, tc := range cases {
		if err := segment.Inspect(tc.in, tc.seg, nil).Err(); err != nil {
			b.Fatalf("%s: benchmark input is not clean: %v", tc.name, err)
		}
		b.Run(fmt.Sprintf("%s/size=%dKiB/impl=inspect", tc.name, len(tc.seg)>>10), func(b *testing.B) {
			b.SetBytes(int64(len(tc.seg)))
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				segment.Inspect(tc.in, tc.seg, nil)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
			if cpu := processCPU() - cpu0; cpu > 0 {
				// Segments per CPU-second: the per-core rate, whatever the
				// other tenants of the machine are doing.
				b.ReportMetric(float64(b.N)/(float64(cpu)/1e9), "segments/cpu-s")
			}
		})
		// The baseline a user would otherwise write: mp4ff's full decode
		// plus GetFullSamples (no framing checks, no defect list; panics
		// on some hostile input, which is why Inspect exists).
		b.Run(fmt.Sprintf("%s/size=%dKiB/impl=mp4ff-decode", tc.name, len(tc.seg)>>10), func(b *testing.B) {
			b.SetBytes(int64(len(tc.seg)))
			b.ReportAllocs()
			cpu0 := processCPU()
			for b.Loop() {
				f, err := mp4.DecodeFileSR(bits.NewFixedSliceReader(tc.seg))
				if err != nil {
					b.Fatal(err)
				}
				for _, frag := range f.Segments[0].Fragments {
					if _, err := frag.GetFullSamples(nil); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segments/s")
			if cpu := processCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)/(float64(cpu)/1e9), "segments/cpu-s")
			}
		})
	}
}

func BenchmarkInfoBinary(b *testing.B) {
	in, segs := vodRendition(b, "2")
	info := segment.Inspect(in, segs[1], nil)
	enc, _ := info.MarshalBinary()
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 64)
		for b.Loop() {
			buf, _ = info.AppendBinary(buf[:0])
		}
	})
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		var out segment.Info
		for b.Loop() {
			if err := out.UnmarshalBinary(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// ffmpeg1080p encodes 2 s of 1080p testsrc2 at 6 Mbit/s with Debian's ffmpeg
// when it is installed (benchmarks never require peers) and returns the
// media segment and its init.
func ffmpeg1080p(b *testing.B) ([]byte, *segment.Init) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		b.Log("ffmpeg not installed: skipping the real 1080p segment")
		return nil, nil
	}
	raw := ffmpegMP4(b, ffmpeg, "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25",
		"-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-b:v", "6M", "-maxrate", "6M", "-bufsize", "12M", "-g", "50",
		"-movflags", "+frag_keyframe+empty_moov+default_base_moof+cmaf")
	initBytes, segs := splitFragmented(b, raw)
	in, err := segment.InspectInit(initBytes)
	if err != nil {
		b.Fatal(err)
	}
	return segs[0], in
}
