package main

import "github.com/restorable/restorable/internal/prices"

// The analyzer prices storage classes with the shared price table
// (internal/prices), the one the exporter prices requests with.
type (
	priceTable = prices.Table
	classPrice = prices.Class
)

// loadPrices reads the table of path, or the built-in table when path is
// empty.
func loadPrices(path string) (*priceTable, error) { return prices.Load(path) }
