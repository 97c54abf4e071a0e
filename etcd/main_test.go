package etcd_test

import (
	"os"
	"testing"

	"github.com/afterhours-go/afterhours/etcd/etcdtest"
)

func TestMain(m *testing.M) { os.Exit(etcdtest.Main(m)) }
