package postgres_test

import "github.com/pulsegrid/pulsegrid/algorithms/signal"

func storetestChannels() []signal.Channel {
	return []signal.Channel{{Name: "ECG", Unit: "mV", Rate: 360, Gain: 200}}
}

func storetestIdentity() signal.Identity { return signal.Identity{Record: "r"} }
