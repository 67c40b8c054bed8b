package volunteer

import "testing"

func TestWebsocketURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8080", "ws://127.0.0.1:8080/ws/volunteer"},
		{"https://grid.example.org/", "wss://grid.example.org/ws/volunteer"},
		{"ws://h:1/ws/volunteer", "ws://h:1/ws/volunteer"},
	}
	for _, tc := range tests {
		got, err := WebsocketURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("WebsocketURL(%q): got %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"ftp://x", "127.0.0.1:8080", "::"} {
		if _, err := WebsocketURL(bad); err == nil {
			t.Errorf("WebsocketURL(%q): want an error", bad)
		}
	}
}

func TestSettersClamp(t *testing.T) {
	v := New(Config{})
	for _, tc := range []struct{ set, want int }{{0, 100}, {-5, 100}, {150, 100}, {25, 25}} {
		v.SetCPU(tc.set)
		if got := int(v.cpu.Load()); got != tc.want {
			t.Errorf("SetCPU(%d): got %d, want %d", tc.set, got, tc.want)
		}
	}
	for _, tc := range []struct{ set, want int }{{0, 1}, {4, 4}, {1000, 64}} {
		v.SetSlots(tc.set)
		if got := int(v.slots.Load()); got != tc.want {
			t.Errorf("SetSlots(%d): got %d, want %d", tc.set, got, tc.want)
		}
	}
}
