/** ImageBuilder and Registry: the Build Service's two external systems (Build Service issue). */
export interface ImageBuilder {
  /** Builds `tag` from a context directory; progress lines stream to `onProgress`. */
  build(input: {
    contextDir: string;
    dockerfile?: string;
    tag: string;
    onProgress?: (line: string) => void;
  }): Promise<{
    imageId: string;
  }>;
}

export interface Registry {
  /** Pushes a built tag; returns the pullable reference with digest. */
  push(tag: string): Promise<{ reference: string }>;
  exists(reference: string): Promise<boolean>;
}
