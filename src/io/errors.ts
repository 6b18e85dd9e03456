// Errors of checkpoint I/O. They are values with a message a user can act on: the message
// names the file and the tensor (`CheckpointError: tensor transformer.layers.3.mlp.dense_h_to_4h.weight
// has shape [256,64], config says [1024,64]`) and is shown in the UI as it is.

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}
