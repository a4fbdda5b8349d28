package demo

import (
	"fmt"
	"math/rand/v2"
)

var (
	namePrefixes = []string{
		"Northwind", "Bluepeak", "Cedar", "Harbor", "Lumen", "Granite", "Silverline", "Brightwater",
		"Ironbridge", "Maple", "Redwood", "Summit", "Clearview", "Oakridge", "Pinecrest", "Riverbend",
		"Stonegate", "Westfield", "Evergreen", "Highland", "Crescent", "Beacon", "Falcon", "Meridian",
		"Sterling", "Aurora", "Horizon", "Keystone", "Lakeshore", "Orchard",
	}
	nameSuffixes = []string{
		"Logistics", "Health", "Analytics", "Foods", "Retail", "Energy", "Labs", "Capital",
		"Manufacturing", "Media", "Travel", "Insurance", "Robotics", "Education", "Legal", "Farms",
	}
	nameForms = []string{"%s %s", "%s %s Ltd", "%s %s Inc", "%s %s Group", "%s %s Co"}
)

// companyName returns a plausible company name; i keeps names unique when
// the word lists repeat.
func companyName(rng *rand.Rand, i int) string {
	p := namePrefixes[rng.IntN(len(namePrefixes))]
	s := nameSuffixes[rng.IntN(len(nameSuffixes))]
	name := fmt.Sprintf(nameForms[rng.IntN(len(nameForms))], p, s)
	if i >= len(namePrefixes)*len(nameSuffixes)/2 {
		name = fmt.Sprintf("%s %d", name, i)
	}
	return name
}
