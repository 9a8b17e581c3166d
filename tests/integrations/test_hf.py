"""The Hugging Face adapter with a real Trainer on a tiny model built here (no download)."""

from __future__ import annotations

import pytest

from repfit.integrations.history import HistoryStore

torch = pytest.importorskip("torch", reason="install repfit[hf]")
transformers = pytest.importorskip("transformers", reason="install repfit[hf]")

from repfit.integrations.hf import workout  # noqa: E402


class TinyClassifier(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(5, 2)

    def forward(self, x, labels=None):
        logits = self.net(x)
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return {"loss": loss, "logits": logits}


class Rows(torch.utils.data.Dataset):
    def __init__(self, x, y) -> None:
        self.x = torch.tensor(x, dtype=torch.float32)
        self.y = torch.tensor(y, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.y[i]}


def _trainer(cb, data, tmp_path, **args):
    xt, yt, xv, yv = data
    torch.manual_seed(0)
    arguments = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=30, per_device_train_batch_size=16,
        eval_strategy="steps", eval_steps=10, logging_strategy="no", save_strategy="no",
        report_to=[], use_cpu=True, disable_tqdm=True, learning_rate=0.05, **args)
    return transformers.Trainer(model=TinyClassifier(), args=arguments,
                                train_dataset=Rows(xt, yt), eval_dataset=Rows(xv, yv),
                                callbacks=[cb])


def test_trainer_assigns_and_records_evaluations(mosquitto, user, listen, binary_data,
                                                 tmp_path, recorded):
    listener = listen(user)
    with workout(user=user, broker=mosquitto.url, data_dir=tmp_path, exercise="squats",
                 checkpoint_every=10) as cb:
        _trainer(cb, binary_data, tmp_path).train()
    a = listener.assignment()
    assert a.exercise == "squat" and a.experiment.startswith("hf-")
    assert recorded() == ("finished", "validation", "loss", False, [10, 20, 30])


def test_metric_for_best_model_decides_what_is_compared(mosquitto, user, binary_data,
                                                       tmp_path):
    with workout(user=user, broker=mosquitto.url, data_dir=tmp_path) as cb:
        _trainer(cb, binary_data, tmp_path, metric_for_best_model="eval_loss",
                 greater_is_better=False).train()
    [run] = HistoryStore.in_dir(tmp_path).runs()
    assert (run.metric, run.higher_is_better) == ("loss", False)


def test_ctrl_c_during_trainer_train_gives_the_penalty(mosquitto, user, listen, binary_data,
                                                       tmp_path):
    listener = listen(user)

    class CtrlC(transformers.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 5:
                raise KeyboardInterrupt

    cb = workout(user=user, broker=mosquitto.url, data_dir=tmp_path)
    trainer = _trainer(cb, binary_data, tmp_path)
    trainer.add_callback(CtrlC())
    with pytest.raises(KeyboardInterrupt), cb:
        trainer.train()
    assert listener.assignment("penalty").reason == "penalty"
