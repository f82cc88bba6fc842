package media

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 is a Store in a bucket of an S3-compatible object store, through
// minio-go: what several instances share.
type S3 struct {
	cl     *minio.Client
	bucket string
	prefix string
}

// NewS3 connects to the store and makes the bucket when it is missing. The
// keys are never logged nor put in an error.
func NewS3(ctx context.Context, c S3Config) (*S3, error) {
	opts := &minio.Options{
		Creds:  credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure: !c.Insecure,
		Region: c.Region,
	}
	if c.PathStyle {
		opts.BucketLookup = minio.BucketLookupPath
	}
	cl, err := minio.New(c.Endpoint, opts)
	if err != nil {
		return nil, fmt.Errorf("media s3 %s: %w", c.Endpoint, err)
	}
	s := &S3{cl: cl, bucket: c.Bucket, prefix: c.Prefix}
	ok, err := cl.BucketExists(ctx, c.Bucket)
	if err != nil {
		return nil, fmt.Errorf("media s3 %s bucket %s: %w", c.Endpoint, c.Bucket, err)
	}
	if !ok {
		if err := cl.MakeBucket(ctx, c.Bucket, minio.MakeBucketOptions{Region: c.Region}); err != nil {
			return nil, fmt.Errorf("media s3 %s make bucket %s: %w", c.Endpoint, c.Bucket, err)
		}
	}
	return s, nil
}

// Name names the bucket.
func (s *S3) Name() string { return "s3 " + s.cl.EndpointURL().Host + "/" + s.bucket }

// Put uploads data under key.
func (s *S3) Put(ctx context.Context, key string, data []byte, contentType string) error {
	if !ValidKey(key) {
		return fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	_, err := s.cl.PutObject(ctx, s.bucket, s.prefix+key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: contentType})
	if err != nil {
		return fmt.Errorf("media put %s: %w", key, err)
	}
	return nil
}

// Delete removes the object under key (none: no error).
func (s *S3) Delete(ctx context.Context, key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	if err := s.cl.RemoveObject(ctx, s.bucket, s.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		if r := minio.ToErrorResponse(err); r.Code == "NoSuchKey" || r.StatusCode == 404 {
			return nil
		}
		return fmt.Errorf("media delete %s: %w", key, err)
	}
	return nil
}

// Get downloads the object under key.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if !ValidKey(key) {
		return nil, Info{}, fmt.Errorf("%w: %q", ErrBadKey, key)
	}
	obj, err := s.cl.GetObject(ctx, s.bucket, s.prefix+key, minio.GetObjectOptions{})
	if err == nil {
		var st minio.ObjectInfo
		if st, err = obj.Stat(); err == nil {
			ct := st.ContentType
			if ct == "" || ct == "application/octet-stream" {
				ct = ContentTypeOf(key)
			}
			return obj, Info{ContentType: ct, Size: st.Size}, nil
		}
		obj.Close()
	}
	if r := minio.ToErrorResponse(err); r.Code == "NoSuchKey" || r.StatusCode == 404 {
		return nil, Info{}, fmt.Errorf("%w: %s", ErrNotFound, key)
	}
	return nil, Info{}, fmt.Errorf("media get %s: %w", key, err)
}
