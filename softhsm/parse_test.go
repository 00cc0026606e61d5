package softhsm

import (
	"slices"
	"testing"
)

// showSlots is the output of softhsm2-util 2.6.1 --show-slots, abridged.
const showSlots = `Available slots:
Slot 1702923144
    Slot info:
        Description:      SoftHSM slot ID 0x6580ac88
        Token present:    yes
    Token info:
        Manufacturer ID:  SoftHSM project
        Initialized:      yes
        User PIN init.:   yes
        Label:            L2                              
Slot 1907110381
    Slot info:
        Token present:    yes
    Token info:
        Initialized:      yes
        Label:            a label: with colon             
Slot 2
    Slot info:
        Token present:    yes
    Token info:
        Initialized:      no
        Label:                                            
`

func TestParseSlots(t *testing.T) {
	want := []slotInfo{
		{id: 1702923144, label: "L2", initialized: true},
		{id: 1907110381, label: "a label: with colon", initialized: true},
		{id: 2, label: "", initialized: false},
	}
	if got := parseSlots([]byte(showSlots)); !slices.Equal(got, want) {
		t.Fatalf("parseSlots = %+v, want %+v", got, want)
	}
}
