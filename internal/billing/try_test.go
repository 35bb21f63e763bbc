package billing
import ("context";"os";"testing";"fmt")
func TestTry(t *testing.T){
 for _, f := range []string{"testdata/focus-1.0-sample.csv","testdata/aws-cur-legacy-sample.csv"} {
  fh,_ := os.Open(f)
  b, err := ReadCSV(context.Background(), fh, false, Options{})
  if err != nil { t.Fatal(err) }
  fmt.Println(f, b.Format, b.Stats)
  sums := map[string]float64{}
  for _, l := range b.Lines { sums[l.Service+" "+string(l.Category)+" "+l.StorageClass] += l.BilledCost }
  for k,v := range sums { fmt.Println(k, v) }
 }
}
