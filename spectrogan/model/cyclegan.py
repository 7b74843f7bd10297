"""The CycleGAN of SpectroGAN (Keras 3): both generators and both discriminators in one
`keras.Model` whose fused training step updates all four.

One training step (least-squares GAN, cycle L1 x 10, identity L1 x 5, discriminator loss
halved, a history pool of 50 generated images per domain, Adam 2e-4 / beta1 0.5) runs through
Keras `fit()` on TensorFlow (XLA where that is faster) and on JAX. The networks are models.py's;
the data streams batches.py's; fitting a run, its callbacks and checkpoints trainer.py's. This
module imports Keras; nothing here parses arguments or touches a file.

Usage:
    from spectrogan.model.cyclegan import build_from_settings, compile_cyclegan
    from spectrogan.model.settings import TrainingSettings
    model = build_from_settings(TrainingSettings.for_preset("fast"), (260, 260, 1))
    compile_cyclegan(model, lr=2e-4)
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from spectrogan.model import models
from spectrogan.core.cli import import_keras
from spectrogan.model.settings import TrainingSettings

keras = import_keras()
from keras import ops  # noqa: E402 - after the quiet import above

BETA_1 = 0.5  # Adam beta1 of the original (and of the CycleGAN paper)


@keras.saving.register_keras_serializable(package="spectrogan")
class HistoryPool(keras.layers.Layer):
    """History of generated images (Shrivastava et al. 2017), as the original's image pool.

    Each call takes a batch of fresh fakes and returns the batch the discriminator trains
    on: while the pool is filling, the fresh image (which is also stored); afterwards, with
    probability 0.5 the fresh image, otherwise a random stored image, which the fresh one
    replaces. The pool lives in non-trainable variables and is updated with keras.ops inside
    the compiled training step, so it works on every backend, under tf.distribute and
    keras.distribution, and is saved with the model's weights (the random stream included).
    """

    def __init__(self, size: int, image_shape: Sequence[int], *, seed: int = 0,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.size = int(size)
        self.image_shape = tuple(int(s) for s in image_shape)
        self.seed = int(seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed, name=f"{self.name}_rng")
        # only_first_replica: under tf.distribute each replica proposes an update, one wins;
        # the stored images are history, not gradients, so any replica's is as good.
        self.images = self.add_weight(shape=(max(self.size, 1), *self.image_shape),
                                      initializer="zeros", dtype="float32", trainable=False,
                                      aggregation="only_first_replica", name="images")
        self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                     trainable=False, aggregation="only_first_replica",
                                     name="count")
        self.built = True

    def call(self, fakes):
        """float (b, H, W, C) fresh fakes -> float32 (b, H, W, C) images for the discriminator."""
        fakes = ops.stop_gradient(ops.cast(fakes, "float32"))  # history, not a gradient path
        if self.size == 0:
            return fakes
        batch = ops.shape(fakes)[0]  # a tensor when the batch dimension is unknown
        coins = keras.random.uniform((batch,), seed=self.seed_generator)
        picks = keras.random.randint((batch,), 0, self.size, seed=self.seed_generator)
        zero = ops.zeros((), "int32")

        def corner(index):
            return ops.stack([index, zero, zero, zero])

        def image(stack, index):
            # A gather, not ops.slice: TF's XLA bridge wants slice starts to be compile-time
            # constants and would recompile the whole step for every random slot.
            return ops.take(stack, ops.reshape(index, (1,)), axis=0)

        def admit(i, carry):
            # Sequential over the batch: image i may land in the slot image i+1 reads.
            pool, count, chosen = carry
            i = ops.cast(i, "int32")
            fresh = image(fakes, i)
            filling = ops.less(count, self.size)
            swap = ops.logical_and(ops.logical_not(filling),
                                   ops.greater_equal(ops.take(coins, i), 0.5))
            slot = ops.where(filling, count, ops.take(picks, i))
            stored = image(pool, slot)
            chosen = ops.slice_update(chosen, corner(i), ops.where(swap, stored, fresh))
            # Always write the slot (its old content when nothing changes): one dynamic
            # update of one image instead of a select over the whole pool.
            pool = ops.slice_update(pool, corner(slot),
                                    ops.where(ops.logical_or(filling, swap), fresh, stored))
            return pool, ops.minimum(count + 1, self.size), chosen

        pool, count, chosen = ops.fori_loop(
            0, batch, admit, (ops.convert_to_tensor(self.images),
                              ops.convert_to_tensor(self.count), ops.zeros_like(fakes)))
        self.images.assign(pool)
        self.count.assign(count)
        return chosen

    def compute_output_shape(self, input_shape):
        return input_shape

    # The seed generator's state is not a weight, so Keras would not save it; the pool's
    # random stream is part of the training state (exact resume), so store it too.
    def save_own_variables(self, store) -> None:
        super().save_own_variables(store)
        store["rng"] = self.seed_generator.state

    def load_own_variables(self, store) -> None:
        keys = [key for key in store.keys() if key != "rng"]
        super().load_own_variables({key: store[key] for key in keys})
        if "rng" in store.keys():
            self.seed_generator.state.assign(np.asarray(store["rng"]))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "size": self.size, "image_shape": self.image_shape,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="spectrogan")
class LinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Constant learning rate, then linear decay to 0 from `decay_start` to `total_steps`
    (the CycleGAN paper's schedule with decay_start = half of training)."""

    def __init__(self, initial: float, total_steps: int, decay_start: int) -> None:
        self.initial = float(initial)
        self.total_steps = int(total_steps)
        self.decay_start = int(decay_start)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        span = float(max(self.total_steps - self.decay_start, 1))
        fraction = ops.clip((self.total_steps - step) / span, 0.0, 1.0)
        return self.initial * fraction

    def get_config(self) -> dict[str, Any]:
        return {"initial": self.initial, "total_steps": self.total_steps,
                "decay_start": self.decay_start}


def _mse(scores, target: float):
    return ops.mean(ops.square(ops.cast(scores, "float32") - target))


def _l1(real, rebuilt):
    return ops.mean(ops.abs(ops.cast(real, "float32") - ops.cast(rebuilt, "float32")))


class CycleGAN(keras.Model):
    """Two generators (A->B, B->A) and two PatchGAN discriminators trained by one fused step.

    Each training step, on a batch of A and an independent batch of B images:
      generators: fake_B = G_AB(A), fake_A = G_BA(B), cycled A = G_BA(fake_B),
        cycled B = G_AB(fake_A), identities G_BA(A), G_AB(B);
        loss = LSGAN(D_B(fake_B) -> 1) + LSGAN(D_A(fake_A) -> 1)
               + lambda_cycle * (L1 cycle A + L1 cycle B)
               + lambda_identity * (L1 identity A + L1 identity B);
      discriminators: 0.5 * (LSGAN(D(real) -> 1) + LSGAN(D(pooled fake) -> 0)) per domain,
        the fakes drawn through the HistoryPool.
    Both gradients are taken at the same weights and applied by one Adam, which is exactly
    two Adams with the same settings (Adam is per-parameter and both sets step every step).
    The original compiled three models per direction and called train_on_batch six times
    and predict twice per step; here every network pass happens once, in one compiled step.

    The step exists twice over one loss code path written with keras.ops: a GradientTape
    step for TensorFlow and a stateless step (jax.value_and_grad over StatelessScope) for
    JAX, as Keras 3's JAX trainer requires. `test_step` reports held-out cycle and identity
    L1 (val_cycle_l1 / val_identity_l1 in fit's logs).
    """

    def __init__(self, gen_AB: keras.Model, gen_BA: keras.Model, disc_A: keras.Model,
                 disc_B: keras.Model, *, lambda_cycle: float = 10.0,
                 lambda_identity: float = 5.0, pool_size: int = 50, seed: int = 0,
                 pool_shape: tuple[int, int, int] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gen_AB, self.gen_BA = gen_AB, gen_BA
        self.disc_A, self.disc_B = disc_A, disc_B
        self.lambda_cycle = float(lambda_cycle)
        self.lambda_identity = float(lambda_identity)
        # The pool stores training images: crops when the networks take any width.
        image_shape = tuple(pool_shape or gen_AB.input_shape[1:])
        # float32 under any mixed-precision policy: the pool stores the generators' float32
        # outputs, and a mixed policy would have Keras cast its inputs to 16 bits.
        self.pool_A = HistoryPool(pool_size, image_shape, seed=seed, name="pool_A",
                                  dtype="float32")
        self.pool_B = HistoryPool(pool_size, image_shape, seed=seed + 1, name="pool_B",
                                  dtype="float32")
        # Completed epochs live in the weights file, so the checkpoint is one atomic file.
        self.completed_epochs = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                                trainable=False, name="completed_epochs",
                                                aggregation="only_first_replica")
        names = ["g_loss", "d_loss", "g_adv", "cycle_l1"]
        if self.lambda_identity > 0:
            names.append("identity_l1")
        self.train_trackers = [keras.metrics.Mean(name=name) for name in names]
        self.eval_trackers = [keras.metrics.Mean(name=f"heldout_{name}")
                              for name in ("cycle_l1", "identity_l1")]
        self.built = True

    @property
    def metrics(self) -> list[keras.metrics.Metric]:
        return [*self.train_trackers, *self.eval_trackers]

    @property
    def generator_variables(self) -> list:
        return [*self.gen_AB.trainable_variables, *self.gen_BA.trainable_variables]

    @property
    def discriminator_variables(self) -> list:
        return [*self.disc_A.trainable_variables, *self.disc_B.trainable_variables]

    def call(self, inputs, training: bool = False):
        """(A batch, B batch) -> (G_AB(A), G_BA(B))."""
        real_A, real_B = inputs
        return (self.gen_AB(real_A, training=training), self.gen_BA(real_B, training=training))

    # -- the loss, shared by both backends ------------------------------------------------
    def _generator_pass(self, real_A, real_B):
        """Generator objective and the fresh fakes. Returns (g_loss, fake_A, fake_B, logs)."""
        use_identity = self.lambda_identity > 0
        batch = _batch_size(real_A)
        # Same-generator passes share one call (instance norm is per image, so batching
        # changes nothing but speed): G_AB sees A (-> fake B) and B (-> identity B).
        if use_identity:
            out_AB = self.gen_AB(ops.concatenate([real_A, real_B], axis=0), training=True)
            out_BA = self.gen_BA(ops.concatenate([real_B, real_A], axis=0), training=True)
            fake_B, same_B = out_AB[:batch], out_AB[batch:]
            fake_A, same_A = out_BA[:batch], out_BA[batch:]
        else:
            fake_B = self.gen_AB(real_A, training=True)
            fake_A = self.gen_BA(real_B, training=True)
        cycled_A = self.gen_BA(fake_B, training=True)
        cycled_B = self.gen_AB(fake_A, training=True)
        adversarial = (_mse(self.disc_B(fake_B, training=True), 1.0)
                       + _mse(self.disc_A(fake_A, training=True), 1.0))
        cycle = _l1(real_A, cycled_A) + _l1(real_B, cycled_B)
        g_loss = adversarial + self.lambda_cycle * cycle
        logs = {"g_adv": adversarial / 2, "cycle_l1": cycle / 2}
        if use_identity:
            identity = _l1(real_A, same_A) + _l1(real_B, same_B)
            g_loss = g_loss + self.lambda_identity * identity
            logs["identity_l1"] = identity / 2
        logs["g_loss"] = g_loss
        return g_loss, fake_A, fake_B, logs

    def _discriminator_pass(self, real_A, real_B, pooled_A, pooled_B):
        """Halved least-squares loss of both discriminators on real and pooled fake images."""
        batch = _batch_size(real_A)
        loss = 0.0
        for disc, real, fake in ((self.disc_A, real_A, pooled_A),
                                 (self.disc_B, real_B, pooled_B)):
            scores = disc(ops.concatenate([ops.cast(real, "float32"), fake], axis=0),
                          training=True)
            loss = loss + 0.5 * (_mse(scores[:batch], 1.0) + _mse(scores[batch:], 0.0))
        return loss

    def _heldout_pass(self, real_A, real_B) -> dict[str, Any]:
        """Cycle and identity L1 of both directions, averaged (inference mode)."""
        batch = _batch_size(real_A)
        out_AB = self.gen_AB(ops.concatenate([real_A, real_B], axis=0), training=False)
        out_BA = self.gen_BA(ops.concatenate([real_B, real_A], axis=0), training=False)
        cycle = (_l1(real_A, self.gen_BA(out_AB[:batch], training=False))
                 + _l1(real_B, self.gen_AB(out_BA[:batch], training=False)))
        identity = _l1(real_A, out_BA[batch:]) + _l1(real_B, out_AB[batch:])
        return {"heldout_cycle_l1": cycle / 2, "heldout_identity_l1": identity / 2}

    @staticmethod
    def _unpack(data):
        real_A, real_B = data[0], data[1]
        return real_A, real_B

    def _log(self, trackers, values: dict[str, Any]) -> dict[str, Any]:
        logs = {}
        for tracker in trackers:
            if tracker.name in values:
                tracker.update_state(values[tracker.name])
                logs[tracker.name.removeprefix("heldout_")] = tracker.result()
        return logs

    # -- backend dispatch ------------------------------------------------------------------
    def train_step(self, *args):
        if keras.backend.backend() == "jax":
            return self._jax_train_step(*args)
        return self._tf_train_step(*args)

    def test_step(self, *args):
        if keras.backend.backend() == "jax":
            return self._jax_test_step(*args)
        real_A, real_B = self._unpack(args[0])
        return self._log(self.eval_trackers, self._heldout_pass(real_A, real_B))

    # -- TensorFlow: GradientTape ----------------------------------------------------------
    def _tf_train_step(self, data):
        import tensorflow as tf

        real_A, real_B = self._unpack(data)
        # tf.distribute sums replica gradients: scale each replica's mean loss accordingly.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape(persistent=True) as tape:
            g_loss, fake_A, fake_B, logs = self._generator_pass(real_A, real_B)
            with tape.stop_recording():  # the pool's loop has no gradient, none is needed
                pooled_A, pooled_B = self.pool_A(fake_A), self.pool_B(fake_B)
            d_loss = self._discriminator_pass(real_A, real_B, pooled_A, pooled_B)
            g_scaled = self.optimizer.scale_loss(g_loss / replicas)
            d_scaled = self.optimizer.scale_loss(d_loss / replicas)
        g_vars, d_vars = self.generator_variables, self.discriminator_variables
        grads = tape.gradient(g_scaled, g_vars) + tape.gradient(d_scaled, d_vars)
        del tape
        self.optimizer.apply(grads, g_vars + d_vars)
        return self._log(self.train_trackers, {**logs, "d_loss": d_loss})

    # -- JAX: stateless ----------------------------------------------------------------------
    def _jax_train_step(self, state, data):
        import jax

        trainable, non_trainable, optimizer_values, metrics_values = state
        real_A, real_B = self._unpack(data)
        g_ids = {id(v) for v in self.generator_variables}
        is_generator = [id(v) in g_ids for v in self.trainable_variables]

        def losses(trainable_values, non_trainable_values):
            # Generator objective with the discriminators' weights held constant, the
            # discriminator loss with the (pooled, constant) fakes: one backward pass of the
            # sum gives each network exactly its own gradient.
            held = [value if gen else jax.lax.stop_gradient(value)
                    for value, gen in zip(trainable_values, is_generator)]
            mapping = [*zip(self.trainable_variables, held),
                       *zip(self.non_trainable_variables, non_trainable_values)]
            with keras.StatelessScope(state_mapping=mapping) as scope:
                g_loss, fake_A, fake_B, logs = self._generator_pass(real_A, real_B)
                pooled_A, pooled_B = self.pool_A(fake_A), self.pool_B(fake_B)
            updated = [_current(scope, var, value) for var, value
                       in zip(self.non_trainable_variables, non_trainable_values)]
            mapping = [*zip(self.trainable_variables, trainable_values),
                       *zip(self.non_trainable_variables, updated)]
            with keras.StatelessScope(state_mapping=mapping):
                d_loss = self._discriminator_pass(real_A, real_B, pooled_A, pooled_B)
            total = g_loss + d_loss
            with keras.StatelessScope(state_mapping=list(zip(self.optimizer.variables,
                                                             optimizer_values))):
                total = self.optimizer.scale_loss(total)
            return total, (updated, {**logs, "d_loss": d_loss})

        (_, (non_trainable, values)), grads = jax.value_and_grad(losses, has_aux=True)(
            trainable, non_trainable)
        trainable, optimizer_values = self.optimizer.stateless_apply(
            optimizer_values, grads, trainable)
        logs, metrics_values = self._jax_log(self.train_trackers, metrics_values, values)
        return logs, (trainable, non_trainable, optimizer_values, metrics_values)

    def _jax_test_step(self, state, data):
        trainable, non_trainable, metrics_values = state
        real_A, real_B = self._unpack(data)
        mapping = [*zip(self.trainable_variables, trainable),
                   *zip(self.non_trainable_variables, non_trainable)]
        with keras.StatelessScope(state_mapping=mapping):
            values = self._heldout_pass(real_A, real_B)
        logs, metrics_values = self._jax_log(self.eval_trackers, metrics_values, values)
        return logs, (trainable, non_trainable, metrics_values)

    def _jax_log(self, trackers, metrics_values, values):
        mapping = list(zip(self.metrics_variables, metrics_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            logs = self._log(trackers, values)
        return logs, [_current(scope, var, value)
                      for var, value in zip(self.metrics_variables, metrics_values)]


def _batch_size(images):
    """The static batch size when known (so that slices keep static shapes)."""
    return images.shape[0] if images.shape[0] is not None else ops.shape(images)[0]


def _current(scope, variable, value):
    """A variable's value after a StatelessScope (its input value when it was not assigned)."""
    updated = scope.get_current_value(variable)
    return value if updated is None else updated


def build_cyclegan(image_shape: tuple[int, int, int], *, filters: int = 64,
                   res_blocks: int = 6, lambda_cycle: float = 10.0,
                   lambda_identity: float = 5.0, pool_size: int = 50,
                   seed: int = 0, crop_frames: int = 0,
                   identity_start: bool = False, envelope_coefficients: int = 0) -> CycleGAN:
    """Both generators (models.build_generator) and discriminators in one CycleGAN.

    `image_shape` is (H, W, 1) with H and W divisible by 4. With `crop_frames` N > 0 the
    networks take any width (they are fully convolutional: trained on (H, N) crops, they
    still convert whole (H, W) windows for the held-out pass and samples) and the history
    pool stores (H, N) crops. Not compiled: see `compile_cyclegan`.
    """
    height, width, channels = image_shape
    network_shape = (height, None, channels) if crop_frames else image_shape
    pool_shape = (height, crop_frames or width, channels)
    return CycleGAN(
        models.build_generator(network_shape, filters=filters, res_blocks=res_blocks,
                               identity_start=identity_start,
                               envelope_coefficients=envelope_coefficients,
                               name="generator_AtoB"),
        models.build_generator(network_shape, filters=filters, res_blocks=res_blocks,
                               identity_start=identity_start,
                               envelope_coefficients=envelope_coefficients,
                               name="generator_BtoA"),
        models.build_discriminator(network_shape, filters=filters, name="discriminator_A"),
        models.build_discriminator(network_shape, filters=filters, name="discriminator_B"),
        lambda_cycle=lambda_cycle, lambda_identity=lambda_identity, pool_size=pool_size,
        seed=seed, pool_shape=pool_shape, name="cyclegan")


def build_from_settings(settings: TrainingSettings, image_shape: tuple[int, int, int]) -> CycleGAN:
    """The CycleGAN `settings` describe (networks, losses, pool, crops, seed) for (H, W, 1)
    images: the one place a run's settings become a model. Not compiled."""
    return build_cyclegan(image_shape, filters=settings.filters, res_blocks=settings.res_blocks,
                          lambda_cycle=settings.lambda_cycle,
                          lambda_identity=settings.lambda_identity,
                          pool_size=settings.pool_size, seed=settings.seed,
                          crop_frames=settings.crop_frames,
                          identity_start=settings.identity_start,
                          envelope_coefficients=settings.envelope_coefficients)


def compile_cyclegan(model: CycleGAN, *, lr: float = 2e-4, total_steps: int | None = None,
                     decay_start: int | None = None, jit_compile: bool | str = "auto") -> None:
    """Compile with Adam(lr, beta_1=0.5), optionally decaying linearly from `decay_start` to 0
    at `total_steps` (both in optimizer steps), and build the optimizer state."""
    rate: Any = lr
    if total_steps is not None and decay_start is not None:
        rate = LinearDecay(lr, total_steps, decay_start)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=rate, beta_1=BETA_1),
                  jit_compile=jit_compile)
    # Built now so that a checkpoint's optimizer state can be loaded before fit().
    model.optimizer.build(model.trainable_variables)


def count_params(model: keras.Model) -> int:
    """Number of trainable parameters of a network."""
    return int(sum(np.prod(v.shape) for v in model.trainable_variables))
