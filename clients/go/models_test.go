package tessera_test

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"tessera.dev/tessera"
)

func TestListModelsSeesStories(t *testing.T) {
	models, err := dial(t).ListModels(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, info := range models {
		if info.Name == model {
			if info.VocabSize != 512 {
				t.Errorf("%s has a vocabulary of %d, want 512", model, info.VocabSize)
			}
			return
		}
	}
	t.Errorf("ListModels = %v, want %q among them", models, model)
}

// Loading the same file under another name streams its progress, then serves it until
// unloaded.
func TestLoadModelStreamsProgressThenUnloads(t *testing.T) {
	client := dial(t)
	ctx := testContext(t)
	const name = "stories-go"
	var stages []string
	info, err := client.LoadModel(ctx, name, modelPath(t), tessera.OnDevice("cpu"),
		tessera.WithProgress(func(p *tessera.LoadProgress) {
			if p.BytesRead > p.BytesTotal {
				t.Errorf("progress read %d of %d bytes", p.BytesRead, p.BytesTotal)
			}
			stages = append(stages, p.Stage.String())
		}))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) == 0 || stages[0] != "LOAD_STAGE_OPENING_FILE" {
		t.Errorf("progress stages %v, want LOAD_STAGE_OPENING_FILE first", stages)
	}
	if info.Name != name || info.Device != "cpu" || info.VocabSize != 512 {
		t.Errorf("loaded %v, want %s on cpu with 512 tokens", info, name)
	}
	if _, err := client.GetModel(ctx, name); err != nil {
		t.Errorf("GetModel(%s) after loading: %v", name, err)
	}

	if err := client.UnloadModel(ctx, name); err != nil {
		t.Fatal(err)
	}
	_, err = client.GetModel(ctx, name)
	var tesseraErr *tessera.Error
	if !errors.As(err, &tesseraErr) || tesseraErr.Code() != codes.NotFound {
		t.Errorf("GetModel(%s) after unloading: %v, want NotFound", name, err)
	}
}
