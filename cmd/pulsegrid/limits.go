package main

import "fmt"

// fdReserve is the file descriptors kept for the portal, the API, the
// database and spill files when volunteers are many.
const fdReserve = 1024

// stringsFlag is a repeatable string flag.
type stringsFlag []string

// String implements flag.Value.
func (f *stringsFlag) String() string { return fmt.Sprint([]string(*f)) }

// Set implements flag.Value.
func (f *stringsFlag) Set(s string) error {
	*f = append(*f, s)
	return nil
}
