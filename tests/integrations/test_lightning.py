"""The Lightning adapter with a real (tiny) LightningModule on CPU."""

from __future__ import annotations

import pytest

from repfit.integrations.history import HistoryStore

torch = pytest.importorskip("torch", reason="install repfit[lightning]")
L = pytest.importorskip("lightning", reason="install repfit[lightning]")

from repfit.integrations.lightning import workout  # noqa: E402


class Tiny(L.LightningModule):
    def __init__(self, lr: float = 0.1, interrupt_at: int | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Linear(5, 1)

    def _loss(self, batch):
        x, y = batch
        return torch.nn.functional.binary_cross_entropy_with_logits(self.net(x).squeeze(1), y)

    def training_step(self, batch, batch_idx):
        if self.hparams.interrupt_at is not None and self.global_step == self.hparams.interrupt_at:
            raise KeyboardInterrupt
        return self._loss(batch)

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self._loss(batch))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def _loaders(data):
    xt, yt, xv, yv = data
    ds = torch.utils.data.TensorDataset
    f = torch.float32
    train = torch.utils.data.DataLoader(ds(torch.tensor(xt, dtype=f), torch.tensor(yt, dtype=f)),
                                        batch_size=16)
    valid = torch.utils.data.DataLoader(ds(torch.tensor(xv, dtype=f), torch.tensor(yv, dtype=f)),
                                        batch_size=30)
    return train, valid


def _trainer(cb, epochs=3):
    return L.Trainer(max_epochs=epochs, callbacks=[cb], accelerator="cpu", logger=False,
                     enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, num_sanity_val_steps=0)


def test_fit_assigns_and_records_validation_scores(mosquitto, user, listen, binary_data,
                                                   tmp_path, recorded):
    listener = listen(user)
    torch.manual_seed(0)
    with workout(user=user, broker=mosquitto.url, data_dir=tmp_path, exercise="sit-ups",
                 checkpoint_every=10) as cb:
        _trainer(cb).fit(Tiny(), *_loaders(binary_data))
    a = listener.assignment()
    assert a.exercise == "situp" and a.experiment.startswith("lightning-")
    # 160 rows / 16 per batch = 10 optimizer steps per epoch; validation after each epoch.
    assert recorded() == ("finished", "validation", "loss", False, [10, 20, 30])


def test_ctrl_c_inside_lightning_gives_the_penalty(mosquitto, user, listen, binary_data,
                                                   tmp_path):
    listener = listen(user)
    cb = workout(user=user, broker=mosquitto.url, data_dir=tmp_path)
    # Lightning turns Ctrl+C into a graceful shutdown and exits with status 1.
    with pytest.raises(SystemExit):
        _trainer(cb).fit(Tiny(interrupt_at=4), *_loaders(binary_data))
    cb.close()
    assert listener.assignment("penalty").text.startswith("keyboard interrupt")
    [run] = HistoryStore.in_dir(tmp_path).runs()
    assert run.status == "interrupted"
