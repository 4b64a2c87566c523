package segment

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"time"
)

// MediaPlaylist renders the HLS media playlist (version 7, fMP4 with
// EXT-X-MAP) of rendition id for time now: EXT-X-MEDIA-SEQUENCE is the
// first segment number of the window, every segment carries its
// EXT-X-PROGRAM-DATE-TIME (from the epoch, so redundant origins agree), and a
// number missing from the window is listed with EXT-X-GAP.
func (m *Manifest) MediaPlaylist(id string, now time.Time) ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	r, ok := m.rendition(id)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownRendition, id)
	}
	win := m.window(r, now)
	ts := r.Track.Timescale
	target := int(math.Ceil(m.Epoch.SegmentDuration.Seconds()))
	for _, en := range win {
		if t := int(math.Round(ticksToDuration(en.duration, ts).Seconds())); t > target {
			target = t
		}
	}
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n")
	fmt.Fprintf(&b, "#EXT-X-TARGETDURATION:%d\n", target)
	var seq uint64
	if len(win) > 0 {
		seq = win[0].number
	}
	fmt.Fprintf(&b, "#EXT-X-MEDIA-SEQUENCE:%d\n", seq)
	b.WriteString("#EXT-X-INDEPENDENT-SEGMENTS\n")
	fmt.Fprintf(&b, "#EXT-X-MAP:URI=%q\n", expand(m.initTemplate(), r.ID, 0))
	start := m.Epoch.start()
	for _, en := range win {
		pdt := start.Add(ticksToDuration(en.start, ts))
		fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", pdt.UTC().Format("2006-01-02T15:04:05.000Z"))
		if en.missing {
			b.WriteString("#EXT-X-GAP\n")
		}
		fmt.Fprintf(&b, "#EXTINF:%.3f,\n%s\n", ticksToDuration(en.duration, ts).Seconds(), expand(m.mediaTemplate(), r.ID, en.number))
	}
	return b.Bytes(), nil
}

// MultivariantPlaylist renders the HLS multivariant (master) playlist: every
// audio rendition becomes an EXT-X-MEDIA in group "audio" (the first is the
// default) and every video rendition an EXT-X-STREAM-INF whose BANDWIDTH adds
// the highest audio bandwidth and whose CODECS lists video and audio codecs.
// Without video renditions, the audio renditions are listed as variants.
func (m *Manifest) MultivariantPlaylist() ([]byte, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	var video, audio []Rendition
	for _, r := range m.Renditions {
		switch r.Track.Kind {
		case "video":
			video = append(video, r)
		case "audio":
			audio = append(audio, r)
		}
	}
	if len(video) == 0 && len(audio) == 0 {
		return nil, fmt.Errorf("%w: manifest: no audio or video rendition for HLS", ErrMalformed)
	}
	var b bytes.Buffer
	b.WriteString("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	audioBW, audioCodec := 0, ""
	for i, r := range audio {
		def := "NO"
		if i == 0 {
			def = "YES"
		}
		fmt.Fprintf(&b, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=%q,DEFAULT=%s,AUTOSELECT=YES", r.ID, def)
		if r.Track.Channels > 0 {
			fmt.Fprintf(&b, ",CHANNELS=\"%d\"", r.Track.Channels)
		}
		fmt.Fprintf(&b, ",URI=%q\n", expand(m.playlistTemplate(), r.ID, 0))
		if bw := r.bandwidth(); bw > audioBW {
			audioBW, audioCodec = bw, r.Track.Codec
		}
	}
	if len(video) == 0 {
		for _, r := range audio {
			fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS=%q\n%s\n", r.bandwidth(), r.Track.Codec, expand(m.playlistTemplate(), r.ID, 0))
		}
		return b.Bytes(), nil
	}
	// Variants in ascending bandwidth, the order players expect.
	sort.SliceStable(video, func(i, j int) bool { return video[i].bandwidth() < video[j].bandwidth() })
	for _, r := range video {
		codecs := r.Track.Codec
		if audioCodec != "" {
			codecs += "," + audioCodec
		}
		fmt.Fprintf(&b, "#EXT-X-STREAM-INF:BANDWIDTH=%d,CODECS=%q", r.bandwidth()+audioBW, codecs)
		if r.Track.Width > 0 && r.Track.Height > 0 {
			fmt.Fprintf(&b, ",RESOLUTION=%dx%d", r.Track.Width, r.Track.Height)
		}
		if fr := frameRate(r.FrameRate); fr > 0 {
			fmt.Fprintf(&b, ",FRAME-RATE=%.3f", fr)
		}
		if len(audio) > 0 {
			b.WriteString(",AUDIO=\"audio\"")
		}
		fmt.Fprintf(&b, "\n%s\n", expand(m.playlistTemplate(), r.ID, 0))
	}
	return b.Bytes(), nil
}

func (m *Manifest) rendition(id string) (Rendition, bool) {
	for _, r := range m.Renditions {
		if r.ID == id {
			return r, true
		}
	}
	return Rendition{}, false
}

// frameRate parses "25" or "30000/1001"; 0 when absent or invalid.
func frameRate(s string) float64 {
	var num, den float64
	if n, _ := fmt.Sscanf(s, "%g/%g", &num, &den); n == 2 && den > 0 {
		return num / den
	}
	if n, _ := fmt.Sscanf(s, "%g", &num); n == 1 {
		return num
	}
	return 0
}
