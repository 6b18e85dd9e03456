// The uniform average of several models' weights (a "model soup", or stochastic weight averaging
// over one run's checkpoints): every tensor the mean of the same-named tensors, accumulated in
// float64. The models must hold the same tensor names with the same shapes; anything else is
// refused with the model and the tensor named, because such weights cannot be averaged.

import { CheckpointError } from '../io/errors.ts';
import type { SafetensorsTensor } from '../io/safetensors.ts';

export interface LabelledWeights {
  /** Where the weights came from (a folder), for messages. */
  label: string;
  tensors: readonly SafetensorsTensor[];
}

/** The tensors of `models[0]`, in its order, each the mean of all models' same-named tensor. */
export function averageWeights(models: readonly LabelledWeights[]): SafetensorsTensor[] {
  const first = models[0];
  if (first === undefined) throw new CheckpointError('averageWeights: no models to average');
  const byName = models.map((model) => {
    const map = new Map<string, SafetensorsTensor>();
    for (const tensor of model.tensors) map.set(tensor.name, tensor);
    return map;
  });
  for (const [i, model] of models.entries()) {
    for (const tensor of first.tensors) {
      const other = byName[i]!.get(tensor.name);
      if (other === undefined) throw new CheckpointError(`${model.label}: no tensor ${tensor.name} (in ${first.label}); only weights of one architecture can be averaged`);
      if (other.shape.join(',') !== tensor.shape.join(',')) {
        throw new CheckpointError(`${model.label}: ${tensor.name} has shape [${other.shape.join(',')}], ${first.label} [${tensor.shape.join(',')}]`);
      }
    }
    if (model.tensors.length !== first.tensors.length) {
      const extra = model.tensors.find((tensor) => !byName[0]!.has(tensor.name));
      throw new CheckpointError(`${model.label}: tensor ${extra?.name ?? '?'} is not in ${first.label}; only weights of one architecture can be averaged`);
    }
  }
  return first.tensors.map((tensor) => {
    const sum = new Float64Array(tensor.data.length);
    for (const map of byName) {
      const data = map.get(tensor.name)!.data;
      for (let j = 0; j < sum.length; j++) sum[j] += data[j]!;
    }
    const mean = new Float32Array(sum.length);
    for (let j = 0; j < sum.length; j++) mean[j] = sum[j]! / models.length;
    return { name: tensor.name, shape: [...tensor.shape], data: mean };
  });
}
