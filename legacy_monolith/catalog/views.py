from django.db.models import Q
from django.shortcuts import get_object_or_404, render
from django.views.generic import DetailView, ListView

from legacy_monolith.catalog.models import Category, Product
from legacy_monolith.core.utils import paginate, site_setting
from legacy_monolith.reviews.models import Review


def home(request):
    featured = Product.objects.filter(is_active=True).select_related("category").order_by("-rating_avg", "name")[:12]
    return render(request, "catalog/home.html", {
        "featured": featured,
        "banner": site_setting("banner", "Welcome to the Legacy Shop"),
        "categories": Category.objects.filter(parent__isnull=True),
    })


class CategoryListView(ListView):
    queryset = Category.objects.filter(parent__isnull=True).prefetch_related("children")
    template_name = "catalog/category_list.html"
    context_object_name = "categories"


def category_detail(request, slug):
    category = get_object_or_404(Category, slug=slug)
    products = Product.objects.filter(Q(category=category) | Q(category__parent=category), is_active=True)
    return render(request, "catalog/product_list.html", {
        "title": category.name, "page": paginate(products.select_related("brand"), request),
    })


class ProductDetailView(DetailView):
    template_name = "catalog/product_detail.html"
    context_object_name = "product"

    def get_queryset(self):
        return Product.objects.filter(is_active=True).select_related("category", "brand").prefetch_related("variants")

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["reviews"] = (
            Review.objects.filter(product=self.object, is_approved=True).select_related("author").order_by("-created_at")[:20]
        )
        return context


def search(request):
    query = request.GET.get("q", "").strip()
    products = Product.objects.none()
    if query:
        products = Product.objects.filter(
            Q(name__icontains=query) | Q(description__icontains=query) | Q(brand__name__icontains=query)
            | Q(category__name__icontains=query),
            is_active=True,
        ).select_related("brand")
    return render(request, "catalog/product_list.html", {
        "title": f"Search: {query}" if query else "Search", "query": query, "page": paginate(products, request),
    })
