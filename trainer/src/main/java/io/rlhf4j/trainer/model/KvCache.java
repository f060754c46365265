package io.rlhf4j.trainer.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;

/**
 * Keys and values of every layer for the positions seen so far, shape [batch, kvHeads, length, headDim].
 * Owned by one generation loop (not thread-safe); its arrays live in their own manager so that a
 * forward pass can free its temporaries while the cache survives.
 */
public final class KvCache implements AutoCloseable {

    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;
    private long length;

    public KvCache(NDManager parent, int layers) {
        this.manager = parent.newSubManager();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
    }

    /** Positions cached so far (padding included). */
    public long length() {
        return length;
    }

    NDArray keys(int layer) {
        return keys[layer];
    }

    NDArray values(int layer) {
        return values[layer];
    }

    /** Appends this step's keys and values of one layer and returns the full ones. */
    NDArray[] append(int layer, NDArray k, NDArray v) {
        NDArray fullK = keys[layer] == null ? k : NDArrays.concat(new NDList(keys[layer], k), 2);
        NDArray fullV = values[layer] == null ? v : NDArrays.concat(new NDList(values[layer], v), 2);
        ai.djl.ndarray.NDScope.unregister(fullK, fullV);
        fullK.attach(manager);
        fullV.attach(manager);
        if (keys[layer] != null && keys[layer] != k) {
            keys[layer].close();
            values[layer].close();
        }
        keys[layer] = fullK;
        values[layer] = fullV;
        if (layer == keys.length - 1) {
            length = fullK.getShape().get(2);
        }
        return new NDArray[] {fullK, fullV};
    }

    /** Keeps only the batch rows in {@code rows} (for dropping finished sequences). */
    public void select(NDArray rows) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] == null) {
                continue;
            }
            NDArray k = keys[i].get(rows);
            NDArray v = values[i].get(rows);
            ai.djl.ndarray.NDScope.unregister(k, v);
            k.attach(manager);
            v.attach(manager);
            keys[i].close();
            values[i].close();
            keys[i] = k;
            values[i] = v;
        }
    }

    @Override
    public void close() {
        manager.close();
    }
}
