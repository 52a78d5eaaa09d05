"""Text-to-image (MUGE ECommerce-T2I): FID, IS, CLIP score, R-precision and generators."""
