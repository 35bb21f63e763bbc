package model

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// The record stays small: a catalog of a million S3 objects holds a
// million of them (collectors/s3's benchmark). A new fact that only some
// sources know belongs in BackupDetail.
func TestBackupRecordSize(t *testing.T) {
	if got := reflect.TypeFor[Backup]().Size(); got > 336 {
		t.Errorf("model.Backup is %d bytes, more than the 336 a catalog of millions of objects is measured with; put the new field in BackupDetail", got)
	}
}

// A backup without detail costs no allocation and reads as the zero
// detail; SetDetails keeps nil for an empty detail and a copy otherwise.
func TestBackupDetails(t *testing.T) {
	var b Backup
	if d := b.Details(); !reflect.DeepEqual(d, BackupDetail{}) {
		t.Errorf("details of a backup without any: %+v", d)
	}
	b.SetDetails(BackupDetail{})
	if b.Detail != nil {
		t.Errorf("an empty detail was kept: %+v", b.Detail)
	}
	b.SetDetails(BackupDetail{Databases: []string{}, Paths: []string{}})
	if b.Detail != nil {
		t.Errorf("a detail with empty lists was kept: %+v", b.Detail)
	}
	d := BackupDetail{Agent: "pgbackrest", WALStart: "000000010000000000000002"}
	b.SetDetails(d)
	d.Agent = "changed"
	if b.Details().Agent != "pgbackrest" || b.Details().WALStart != "000000010000000000000002" {
		t.Errorf("details = %+v, want the ones set (a copy)", b.Details())
	}
	// Printed backups show the detail's facts, not a pointer, so that
	// two equal backups print the same.
	c := b
	c.SetDetails(b.Details())
	if fmt.Sprintf("%+v", b) != fmt.Sprintf("%+v", c) || !strings.Contains(fmt.Sprintf("%v", b), "pgbackrest") {
		t.Errorf("printed backup %+v", b)
	}
}

// A detail with any one field set is kept: a field isZero forgets would
// be dropped by SetDetails, and with it what the source reported (the
// schedule's interval was, when it joined the detail).
func TestSetDetailsKeepsEveryField(t *testing.T) {
	typ := reflect.TypeFor[BackupDetail]()
	for i := range typ.NumField() {
		var d BackupDetail
		f := reflect.ValueOf(&d).Elem().Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Int64:
			f.SetInt(1)
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		default:
			t.Fatalf("field %s of kind %s: teach this test to set it", typ.Field(i).Name, f.Kind())
		}
		var b Backup
		b.SetDetails(d)
		if b.Detail == nil {
			t.Errorf("a detail with only %s set was dropped", typ.Field(i).Name)
		}
	}
}
