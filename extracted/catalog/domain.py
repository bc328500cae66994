"""The catalog domain as the service declares it to the seam: how each aggregate of the contract
is read from, written to and listed in this side's tables.

`state(apply(s)) == s` holds byte for byte (the seam compares checksums of both sides), so every
list has one order, the same on both sides: variants by id, images by position then url, tags by
name (sorted in Python, not by the database's collation).
"""

from __future__ import annotations

from collections.abc import Iterable

from extracted.catalog import contract
from extracted.catalog.models import Brand, Category, Product, ProductImage, ProductVariant, Tag
from extracted.seam.domains import Aggregate, Domain

# Categories


def category_state(key: int) -> contract.CategoryState | None:
    row = Category.objects.filter(pk=key).values("id", "name", "slug", "parent_id").first()
    return None if row is None else contract.CategoryState(**row)


def apply_category(state: contract.CategoryState) -> None:
    Category.objects.update_or_create(
        id=state.id, defaults={"name": state.name, "slug": state.slug, "parent_id": state.parent_id}
    )


def remove_category(key: int) -> None:
    # PROTECT refuses while products are in it, as it does on the owner.
    Category.objects.filter(pk=key).delete()


def category_keys() -> list[int]:
    return list(Category.objects.order_by("id").values_list("id", flat=True))


# Brands


def brand_state(key: int) -> contract.BrandState | None:
    row = Brand.objects.filter(pk=key).values("id", "name", "slug").first()
    return None if row is None else contract.BrandState(**row)


def apply_brand(state: contract.BrandState) -> None:
    Brand.objects.update_or_create(id=state.id, defaults={"name": state.name, "slug": state.slug})


def remove_brand(key: int) -> None:
    Brand.objects.filter(pk=key).delete()


def brand_keys() -> list[int]:
    return list(Brand.objects.order_by("id").values_list("id", flat=True))


# Products, with their variants, images, tags and digital part


def _load_product(key: int) -> Product | None:
    return Product.objects.filter(pk=key).prefetch_related("variants", "images", "tags").first()


def product_state(key: int) -> contract.ProductState | None:
    product = _load_product(key)
    return None if product is None else _state_of(product)


def _state_of(product: Product) -> contract.ProductState:
    """The state of a product loaded with its variants, images and tags prefetched."""
    variants = sorted(product.variants.all(), key=lambda v: v.id)
    images = sorted(product.images.all(), key=lambda i: (i.position, i.url))
    digital = (
        contract.DigitalState(
            download_url=product.download_url,
            license_key_required=product.license_key_required,
        )
        if product.is_digital
        else None
    )
    return contract.ProductState(
        id=product.id,
        name=product.name,
        slug=product.slug,
        description=product.description,
        category_id=product.category_id,
        brand_id=product.brand_id,
        base_price=product.base_price,
        is_active=product.is_active,
        rating_avg=product.rating_avg,
        rating_count=product.rating_count,
        created_at=product.created_at,
        updated_at=product.updated_at,
        tags=sorted(tag.name for tag in product.tags.all()),
        variants=[
            contract.VariantState(
                id=v.id,
                sku=v.sku,
                name=v.name,
                price=v.price,
                weight_grams=v.weight_grams,
                attributes=v.attributes,
            )
            for v in variants
        ],
        images=[contract.ImageState(url=i.url, alt=i.alt, position=i.position) for i in images],
        digital=digital,
    )


def _product_columns(state: contract.ProductState) -> dict:
    digital = state.digital
    return {
        "name": state.name,
        "slug": state.slug,
        "description": state.description,
        "category_id": state.category_id,
        "brand_id": state.brand_id,
        "base_price": state.base_price,
        "is_active": state.is_active,
        "rating_avg": state.rating_avg,
        "rating_count": state.rating_count,
        "created_at": state.created_at,
        "updated_at": state.updated_at,
        "is_digital": digital is not None,
        "download_url": digital.download_url if digital else "",
        "license_key_required": digital.license_key_required if digital else False,
    }


def _variant_columns(v: contract.VariantState) -> dict:
    return {
        "sku": v.sku,
        "name": v.name,
        "price": v.price,
        "weight_grams": v.weight_grams,
        "attributes": v.attributes,
    }


def apply_product(state: contract.ProductState) -> None:
    apply_products([state])


def apply_products(states: list[contract.ProductState]) -> None:
    """Make this side's products equal to STATES, writing only what differs from what is here.

    An event carries the whole product, but a change is usually one price or one tag: reading
    the products once (4 queries for a consumer's whole batch) and saving the changed rows only
    took the consumer from 23 queries an event to about 3 (bench/seam_bench.py, "Consumer")."""
    states = list({state.id: state for state in states}.values())  # the last of each product
    here = {
        product.pk: product
        for product in Product.objects.filter(pk__in=[s.id for s in states]).prefetch_related(
            "variants", "images", "tags"
        )
    }
    for state in states:
        product = here.get(state.id)
        if product is None:
            product = Product.objects.create(id=state.id, **_product_columns(state))
            have = None
        else:
            have = _state_of(product)
            if have == state:
                continue
            columns = _product_columns(state)
            changed = [
                field for field, value in columns.items() if getattr(product, field) != value
            ]
            if changed:
                for field in changed:
                    setattr(product, field, columns[field])
                product.save(update_fields=changed)
        if have is None or have.variants != state.variants:
            _apply_variants(product, state.variants, fresh=have is None)
        if have is None or have.images != state.images:
            _apply_images(product, state.images)
        if have is None or have.tags != state.tags:
            _apply_tags(product, state.tags)


def _apply_variants(
    product: Product, variants: Iterable[contract.VariantState], *, fresh: bool
) -> None:
    """Exactly the listed variants: the others deleted, the changed ones saved, the new created."""
    wanted = {v.id: v for v in variants}
    here = {} if fresh else {v.id: v for v in product.variants.all()}
    for key, stale in here.items():
        if key not in wanted:
            stale.delete()
    for key, v in wanted.items():
        columns = _variant_columns(v)
        row = here.get(key)
        if row is None:
            ProductVariant.objects.create(id=key, product=product, **columns)
            continue
        changed = [field for field, value in columns.items() if getattr(row, field) != value]
        if changed:
            for field in changed:
                setattr(row, field, columns[field])
            row.save(update_fields=changed)


def _apply_images(product: Product, images: Iterable[contract.ImageState]) -> None:
    """Images have no identity in the contract: when the list differs, it is replaced whole."""
    product.images.all().delete()
    ProductImage.objects.bulk_create(
        [ProductImage(product=product, url=i.url, alt=i.alt, position=i.position) for i in images]
    )


def _apply_tags(product: Product, names: list[str]) -> None:
    tags = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    for name in names:
        if name not in tags:
            tags[name] = Tag.objects.get_or_create(name=name)[0]
    product.tags.set(list(tags.values()))


def remove_product(key: int) -> None:
    # Variants, images and tag links go with it (CASCADE).
    Product.objects.filter(pk=key).delete()


def product_keys() -> list[int]:
    return list(Product.objects.order_by("id").values_list("id", flat=True))


CATALOG = Domain(
    "catalog",
    [
        Aggregate(
            contract.CATEGORY,
            root="catalog.Category",
            state=category_state,
            apply=apply_category,
            remove=remove_category,
            keys=category_keys,
        ),
        Aggregate(
            contract.BRAND,
            root="catalog.Brand",
            state=brand_state,
            apply=apply_brand,
            remove=remove_brand,
            keys=brand_keys,
        ),
        Aggregate(
            contract.PRODUCT,
            root="catalog.Product",
            members={
                "catalog.ProductVariant": "product_id",
                "catalog.ProductImage": "product_id",
                "catalog.Product_tags": "product_id",
            },
            state=product_state,
            apply=apply_product,
            apply_many=apply_products,
            remove=remove_product,
            keys=product_keys,
        ),
    ],
)
